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

void Watchers::publish(const net::StreamSink::Chunk& line) {
  // write() may end a stream that fell behind, which erases it from the list: step first.
  for (auto it = sinks_->begin(); it != sinks_->end();) {
    auto sink = *it++;
    if (!sink->write(line)) ++cut_off_;
  }
}

void Watchers::keepalive(std::uint64_t revision) {
  auto line = std::make_shared<const std::string>(
      "{\"type\":\"keepalive\",\"revision\":" + std::to_string(revision) + "}\n");
  publish(line);
}

}  // namespace dstack::directory
