// SPDX-License-Identifier: Apache-2.0
#include "directory/watchers.hpp"

#include <string>

namespace dstack::directory {

void Watchers::add(std::shared_ptr<net::StreamSink> sink, std::string key, WatchTopics topics) {
  auto it = sinks_->insert(sinks_->end(), Stream{sink, std::move(key), topics});
  // The list outlives nothing it must not: the callback holds it weakly.
  std::weak_ptr<List> list = sinks_;
  sink->on_close([list, it] {
    if (auto l = list.lock()) l->erase(it);
  });
}

void Watchers::publish(const EventHistory::Line& line) {
  send(line, To::all);
}

void Watchers::publish_traffic(const EventHistory::Line& line) {
  send(line, To::traffic);
}

void Watchers::publish_consumers(const EventHistory::Line& line) {
  send(line, To::consumers);
}

void Watchers::publish_rollouts(const EventHistory::Line& line) {
  send(line, To::rollouts);
}

std::size_t Watchers::consumer_streams() const {
  std::size_t n = 0;
  for (const auto& s : *sinks_) n += s.topics.consumers ? 1 : 0;
  return n;
}

std::size_t Watchers::traffic_streams() const {
  std::size_t n = 0;
  for (const auto& s : *sinks_) n += s.topics.traffic ? 1 : 0;
  return n;
}

std::size_t Watchers::rollout_streams() const {
  std::size_t n = 0;
  for (const auto& s : *sinks_) n += s.topics.rollouts ? 1 : 0;
  return n;
}

void Watchers::send(const EventHistory::Line& line, To to) {
  // Framed once for every watcher.
  const net::StreamSink::Chunk chunk = net::frame_chunk(*line);
  // write() may end a stream that fell behind, which erases it from the list: step first. The
  // raw pointer stays valid (the connection owns the sink) and saves two atomic operations a
  // watcher.
  for (auto it = sinks_->begin(); it != sinks_->end();) {
    net::StreamSink* sink = it->sink.get();
    const bool skip = (to == To::traffic && !it->topics.traffic) ||
                      (to == To::consumers && !it->topics.consumers) ||
                      (to == To::rollouts && !it->topics.rollouts);
    ++it;
    if (skip) continue;
    const bool open = batch_ ? sink->write(chunk, *batch_) : sink->write(chunk);
    if (!open) ++cut_off_;
  }
  if (!batch_ || batch_->empty()) return;
  for (const auto& send : batch_->flush())
    if (!static_cast<net::StreamSink*>(send.tag)->sent(chunk, send.result)) ++cut_off_;
}

std::size_t Watchers::close_if(const std::function<bool(const std::string& key)>& revoked) {
  std::size_t closed = 0;
  // close() may erase the stream from the list: step first, as publish() does.
  for (auto it = sinks_->begin(); it != sinks_->end();) {
    net::StreamSink* sink = it->sink.get();
    const bool end = !sink->closed() && revoked(it->key);
    ++it;
    if (end) {
      sink->close();
      ++closed;
    }
  }
  return closed;
}

void Watchers::keepalive(std::uint64_t revision) {
  auto line = std::make_shared<const std::string>(
      "{\"type\":\"keepalive\",\"revision\":" + std::to_string(revision) + "}\n");
  publish(line);
}

}  // namespace dstack::directory
