// SPDX-License-Identifier: Apache-2.0
// The directory's watch stream as its client reads it, line by line (docs/api.md#event-lines):
// events, keepalives, the revision to resume from, and the refusals a user sees.

#include "common/registry/watch_line.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dstack::registry {
namespace {

std::string refusal(std::string_view line) {
  std::uint64_t revision = 3;
  auto read = read_watch_line(line, revision, "d:7400");
  if (!read || *read) {
    ADD_FAILURE() << "accepted " << line;
    return "";
  }
  EXPECT_EQ(read->error().kind, ErrorKind::protocol);
  EXPECT_EQ(revision, 3u);
  return read->error().message;
}

TEST(WatchLine, ReadsAnEventAndTakesItsRevision) {
  std::uint64_t revision = 3;
  auto read = read_watch_line(
      R"({"consumer":"monolith","revision":6,"service":"emitter","type":"route_delete"})", revision,
      "d:7400");
  ASSERT_TRUE(read && *read);
  EXPECT_EQ((*read)->type, model::Event::Type::route_delete);
  EXPECT_EQ((*read)->consumer, "monolith");
  EXPECT_EQ(revision, 6u);
}

TEST(WatchLine, KeepalivesAndEmptyLinesCarryNoEventAndNeverGoBack) {
  std::uint64_t revision = 3;
  EXPECT_FALSE(read_watch_line("", revision, "d:7400"));
  EXPECT_FALSE(read_watch_line(R"({"type":"keepalive","revision":8})", revision, "d:7400"));
  EXPECT_EQ(revision, 8u);
  EXPECT_FALSE(read_watch_line(R"({"type":"keepalive","revision":2})", revision, "d:7400"));
  EXPECT_EQ(revision, 8u);
}

TEST(WatchLine, RefusesWhatIsNotAnEvent) {
  EXPECT_EQ(refusal("[1]"), "d:7400: watch line is not a JSON object");
  EXPECT_EQ(refusal(R"({"revision":4,"service":"emitter","type":"route_moved"})"),
            "d:7400: watch event refused: type \"route_moved\" is invalid: must be one of "
            "instance_put, instance_delete, route_put, route_delete, policy_put, policy_delete");
}

// Found by watch_line_fuzz (docs/fuzzing.md): a "type" that was not a string threw out of the
// watch (nlohmann's value() throws on a type mismatch) instead of ending it with an error.
TEST(WatchLine, TypeThatIsNotAStringIsRefusedNotThrown) {
  EXPECT_EQ(refusal(R"({"type":8,"revision":4,"service":"emitter"})"),
            "d:7400: watch event refused: type: expected a string, got an integer");
  EXPECT_EQ(refusal(R"({"type":["keepalive"],"revision":4,"service":"emitter"})"),
            "d:7400: watch event refused: type: expected a string, got an array");
}

}  // namespace
}  // namespace dstack::registry
