#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "common/config/reader.hpp"

namespace dstack::config {
namespace {

// POSIX rather than iostreams: errno is then reliably the reason (a directory opens fine and
// only fails on read, with EISDIR, which ifstream would hide).
std::optional<std::string> read_all(const std::string& path, int& err) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
    return std::nullopt;
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      err = errno;
      ::close(fd);
      return std::nullopt;
    }
  }
  ::close(fd);
  return text;
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
    docs = YAML::LoadAll(std::string(text));
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
