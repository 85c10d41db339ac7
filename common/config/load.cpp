// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <system_error>

#include <yaml-cpp/eventhandler.h>

#include "common/config/reader.hpp"
#include "common/core/fd.hpp"

namespace dstack::config {
namespace {

// POSIX rather than iostreams: errno is then reliably the reason (a directory opens fine and
// only fails on read, with EISDIR, which ifstream would hide).
std::optional<std::string> read_all(const std::string& path, int& err) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    err = errno;
    return std::nullopt;
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      err = errno;
      return std::nullopt;
    }
  }
  return text;
}

// yaml-cpp 0.7 never returns from LoadAll, and allocates until memory runs out, when a
// document starts with ',': its parser hands back the same empty document without consuming
// anything (fixed after 0.7; found by the config fuzz targets, docs/fuzzing.md). So the
// documents are walked once first, and the first one that starts where the one before it
// started is where the parser is stuck.
class DocumentStarts final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
  YAML::Mark start;
};

// Where the parser would loop forever, if it would. Throws what yaml-cpp throws.
std::optional<YAML::Mark> stuck_at(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  std::optional<int> last;
  while (parser.HandleNextDocument(starts)) {
    if (last == starts.start.pos) return starts.start;
    last = starts.start.pos;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Document> load_file(const std::string& path, Errors& errors) {
  int err = 0;
  auto text = read_all(path, err);
  if (!text) {
    // error_code's message is strerror's text without strerror's shared buffer.
    errors.add(path, "cannot read: " + std::error_code(err, std::generic_category()).message());
    return std::nullopt;
  }
  return parse_text(*text, path, errors);
}

std::optional<Document> parse_text(std::string_view text, std::string_view file, Errors& errors) {
  std::vector<YAML::Node> docs;
  try {
    const std::string copy(text);
    if (const auto at = stuck_at(copy)) {
      const auto pos = static_cast<std::size_t>(at->pos);
      errors.add(file, *at, "", "unexpected '" + copy.substr(pos, 1) + "'");
      return std::nullopt;
    }
    docs = YAML::LoadAll(copy);
  } catch (const YAML::Exception& e) {
    errors.add(file, e.mark, "", e.msg);
    return std::nullopt;
  }
  // yaml-cpp's Load() silently drops every document after the first; a second one is far more
  // likely a stray `---` than something the operator expects us to ignore.
  if (docs.size() > 1) {
    errors.add(file, docs[1].Mark(), "",
               "expected one YAML document, found " + std::to_string(docs.size()));
    return std::nullopt;
  }
  // Empty, comments only, or a bare `---`: nothing configured, every default applies.
  if (docs.empty() || docs[0].IsNull()) {
    return Document{std::string(file), YAML::Node(YAML::NodeType::Map)};
  }
  if (!docs[0].IsMap()) {
    errors.add(file, docs[0].Mark(), "",
               "expected a map at the top level, got " + describe(docs[0]));
    return std::nullopt;
  }
  return Document{std::string(file), docs[0]};
}

}  // namespace dstack::config
