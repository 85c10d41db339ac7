// SPDX-License-Identifier: Apache-2.0
#include "directory/event_history.hpp"

#include <cassert>

namespace dstack::directory {

EventHistory::EventHistory(std::size_t capacity, std::uint64_t revision)
    : capacity_(capacity), first_(revision + 1), last_(revision) {}

void EventHistory::append(std::uint64_t revision, Line line) {
  assert(revision == last_ + 1);
  last_ = revision;
  lines_.push_back(std::move(line));
  if (lines_.size() > capacity_) {
    lines_.pop_front();
    ++first_;
  }
}

std::optional<std::vector<EventHistory::Line>> EventHistory::since(std::uint64_t since) const {
  if (since > last_ || since + 1 < first_) return std::nullopt;
  auto begin = lines_.begin() + static_cast<std::ptrdiff_t>(since + 1 - first_);
  return std::vector<Line>(begin, lines_.end());
}

}  // namespace dstack::directory
