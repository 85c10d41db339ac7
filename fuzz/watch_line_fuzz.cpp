// SPDX-License-Identifier: Apache-2.0
// The directory's watch stream as its client reads it (registry::read_watch_line, one line at a
// time, docs/api.md#event-lines): events, keepalives and the revision the client resumes from.
// An event read back from its own JSON must be the same event.
#include "common/model/json.hpp"
#include "common/registry/watch_line.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint64_t revision = 3;  // as after `?since=3`
  for (const auto& line : fuzz::split(fuzz::text(data, size), '\n', 64)) {
    const std::uint64_t before = revision;
    auto read = registry::read_watch_line(line, revision, "directory");
    if (!read) {
      FUZZ_CHECK(revision >= before);  // a keepalive never takes the client back
      continue;
    }
    if (!*read) {
      FUZZ_CHECK(read->error().kind == ErrorKind::protocol);
      FUZZ_CHECK(revision == before);
      break;  // the watch ends on its first bad line
    }
    const model::Event& event = **read;
    FUZZ_CHECK(revision == event.revision);
    std::uint64_t again = 0;
    auto back = registry::read_watch_line(model::to_json(event).dump(), again, "directory");
    FUZZ_CHECK(back && *back && **back == event);
  }
  return 0;
}
