// SPDX-License-Identifier: Apache-2.0
#pragma once
// The recent changes, as the NDJSON lines sent to watchers, so a watcher that reconnects resumes
// from its last revision instead of re-reading everything. Bounded: older lines are dropped and
// a watcher that needs them is told its revision is stale (410).

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dstack::directory {

class EventHistory {
 public:
  using Line = std::shared_ptr<const std::string>;

  // `revision` is the revision the history starts after (nothing older can be served).
  EventHistory(std::size_t capacity, std::uint64_t revision);

  // Revisions must arrive in order, one at a time.
  void append(std::uint64_t revision, Line line);

  // The lines after `since`, or nullopt when some of them were dropped already or `since` is
  // newer than anything recorded.
  std::optional<std::vector<Line>> since(std::uint64_t since) const;

  std::uint64_t last() const { return last_; }
  std::size_t size() const { return lines_.size(); }

 private:
  std::size_t capacity_;
  std::uint64_t first_;  // the revision of lines_.front(), or last_ + 1 when empty
  std::uint64_t last_;
  std::deque<Line> lines_;
};

}  // namespace dstack::directory
