// SPDX-License-Identifier: Apache-2.0
#include "directory/watchers.hpp"

#include <string>

namespace dstack::directory {

void Watchers::add(std::shared_ptr<net::StreamSink> sink) {
  auto it = sinks_->insert(sinks_->end(), sink);
  // The list outlives nothing it must not: the callback holds it weakly.
  std::weak_ptr<List> list = sinks_;
  sink->on_close([list, it] {
    if (auto l = list.lock()) l->erase(it);
  });
}

void Watchers::publish(const EventHistory::Line& line) {
  // Framed once for every watcher.
  const net::StreamSink::Chunk chunk = net::frame_chunk(*line);
  // write() may end a stream that fell behind, which erases it from the list: step first. The
  // raw pointer stays valid (the connection owns the sink) and saves two atomic operations a
  // watcher.
  for (auto it = sinks_->begin(); it != sinks_->end();) {
    net::StreamSink* sink = it->get();
    ++it;
    if (!sink->write(chunk)) ++cut_off_;
  }
}

void Watchers::keepalive(std::uint64_t revision) {
  auto line = std::make_shared<const std::string>(
      "{\"type\":\"keepalive\",\"revision\":" + std::to_string(revision) + "}\n");
  publish(line);
}

}  // namespace dstack::directory
