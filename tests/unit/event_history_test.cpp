// SPDX-License-Identifier: Apache-2.0
// Watch resume (docs/api.md#get-v1watch, ?since=REV): a watcher gets exactly the lines after its
// revision, or is told its revision is stale (410) when they are no longer all kept.

#include "directory/event_history.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace dstack::directory {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

EventHistory::Line line(std::uint64_t revision) {
  return std::make_shared<const std::string>("{\"revision\":" + std::to_string(revision) + "}\n");
}

// Appends revisions from..to (inclusive).
void append(EventHistory& h, std::uint64_t from, std::uint64_t to) {
  for (auto r = from; r <= to; ++r) h.append(r, line(r));
}

// The text of what since() served, or a marker for a stale revision.
std::vector<std::string> texts(const std::optional<std::vector<EventHistory::Line>>& lines) {
  if (!lines) return {"<stale>"};
  std::vector<std::string> out;
  for (const auto& l : *lines) out.push_back(*l);
  return out;
}

TEST(EventHistoryTest, NothingAfterTheLastRevision) {
  EventHistory h(10, 0);
  EXPECT_EQ(h.last(), 0u);
  ASSERT_TRUE(h.since(0).has_value());
  EXPECT_THAT(*h.since(0), IsEmpty());
  append(h, 1, 3);
  EXPECT_EQ(h.last(), 3u);
  ASSERT_TRUE(h.since(3).has_value());
  EXPECT_THAT(*h.since(3), IsEmpty());
}

TEST(EventHistoryTest, SinceReturnsExactlyTheLinesAfterTheRevision) {
  EventHistory h(10, 0);
  append(h, 1, 5);
  EXPECT_THAT(texts(h.since(0)),
              ElementsAre("{\"revision\":1}\n", "{\"revision\":2}\n", "{\"revision\":3}\n",
                          "{\"revision\":4}\n", "{\"revision\":5}\n"));
  EXPECT_THAT(texts(h.since(3)), ElementsAre("{\"revision\":4}\n", "{\"revision\":5}\n"));
  EXPECT_THAT(texts(h.since(4)), ElementsAre("{\"revision\":5}\n"));
}

TEST(EventHistoryTest, SharesTheLinesInsteadOfCopyingThem) {
  EventHistory h(10, 0);
  auto l = line(1);
  h.append(1, l);
  auto got = h.since(0);
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].get(), l.get());
}

TEST(EventHistoryTest, ARevisionNewerThanAnythingRecordedIsStale) {
  EventHistory h(10, 0);
  append(h, 1, 5);
  EXPECT_FALSE(h.since(6).has_value());
  EXPECT_FALSE(h.since(1000).has_value());
  EXPECT_FALSE(h.since(std::numeric_limits<std::uint64_t>::max()).has_value());
}

TEST(EventHistoryTest, DroppedRevisionsAreStaleWhileTheOldestKeptBoundaryStillResumes) {
  EventHistory h(4, 0);
  append(h, 1, 10);  // keeps 7..10
  EXPECT_EQ(h.size(), 4u);
  EXPECT_EQ(h.last(), 10u);
  // since(6) = first kept - 1: everything kept is exactly what the watcher lacks.
  EXPECT_THAT(texts(h.since(6)), ElementsAre("{\"revision\":7}\n", "{\"revision\":8}\n",
                                             "{\"revision\":9}\n", "{\"revision\":10}\n"));
  // since(5) would need revision 6, which was dropped.
  EXPECT_FALSE(h.since(5).has_value());
  EXPECT_FALSE(h.since(0).has_value());
  EXPECT_THAT(texts(h.since(9)), ElementsAre("{\"revision\":10}\n"));
}

TEST(EventHistoryTest, ExactlyCapacityAppendsDropNothing) {
  EventHistory h(3, 0);
  append(h, 1, 3);
  EXPECT_THAT(texts(h.since(0)),
              ElementsAre("{\"revision\":1}\n", "{\"revision\":2}\n", "{\"revision\":3}\n"));
  h.append(4, line(4));
  EXPECT_FALSE(h.since(0).has_value());
  EXPECT_THAT(texts(h.since(1)),
              ElementsAre("{\"revision\":2}\n", "{\"revision\":3}\n", "{\"revision\":4}\n"));
}

TEST(EventHistoryTest, StartsAfterTheGivenRevision) {
  EventHistory h(10, 100);
  EXPECT_EQ(h.last(), 100u);
  EXPECT_EQ(h.size(), 0u);
  // The snapshot revision a client read resumes with nothing to send.
  ASSERT_TRUE(h.since(100).has_value());
  EXPECT_THAT(*h.since(100), IsEmpty());
  // Anything before the start cannot be served.
  EXPECT_FALSE(h.since(99).has_value());
  EXPECT_FALSE(h.since(0).has_value());
  EXPECT_FALSE(h.since(101).has_value());

  append(h, 101, 102);
  EXPECT_THAT(texts(h.since(100)), ElementsAre("{\"revision\":101}\n", "{\"revision\":102}\n"));
  EXPECT_THAT(texts(h.since(101)), ElementsAre("{\"revision\":102}\n"));
  EXPECT_FALSE(h.since(99).has_value());
}

TEST(EventHistoryTest, StartRevisionBoundaryAfterDrops) {
  EventHistory h(2, 50);
  append(h, 51, 55);  // keeps 54..55
  EXPECT_THAT(texts(h.since(53)), ElementsAre("{\"revision\":54}\n", "{\"revision\":55}\n"));
  EXPECT_FALSE(h.since(52).has_value());
  EXPECT_FALSE(h.since(50).has_value());
}

}  // namespace
}  // namespace dstack::directory
