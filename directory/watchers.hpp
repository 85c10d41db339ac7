// SPDX-License-Identifier: Apache-2.0
#pragma once
// The open watch streams: every change is written once and shared by all of them, and idle
// streams get a keep-alive line so both ends notice a dead peer. Each stream remembers the
// token that opened it, so revoking the token ends it (docs/security.md).

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "common/net/http.hpp"
#include "common/net/send_batch.hpp"
#include "directory/event_history.hpp"

namespace dstack::directory {

// The events a stream asked for besides the changes (docs/api.md#get-v1watch).
struct WatchTopics {
  bool traffic = false;
  bool consumers = false;
  bool rollouts = false;
};

class Watchers {
 public:
  // With a batch, an event goes to every stream that keeps up in one system call
  // (docs/directory.md#watch-fan-out); without, in one send each.
  explicit Watchers(std::unique_ptr<net::SendBatch> batch = nullptr) : batch_(std::move(batch)) {}
  // Adds a stream opened by the caller whose key (Caller::key) is `key` ("" for none), which
  // asked for `topics`; it leaves the set by itself when it ends.
  void add(std::shared_ptr<net::StreamSink> sink, std::string key = {}, WatchTopics topics = {});
  // Ends every stream whose caller's key `revoked` says may no longer read. Returns how many.
  std::size_t close_if(const std::function<bool(const std::string& key)>& revoked);
  // Sends one line (an event, unframed) to every stream.
  void publish(const EventHistory::Line& line);
  // Sends a traffic event to the streams that asked for them.
  void publish_traffic(const EventHistory::Line& line);
  // Sends a consumer event to the streams that asked for them.
  void publish_consumers(const EventHistory::Line& line);
  // Sends a rollout event to the streams that asked for them.
  void publish_rollouts(const EventHistory::Line& line);
  void keepalive(std::uint64_t revision);
  std::size_t size() const { return sinks_->size(); }
  std::size_t traffic_streams() const;
  std::size_t consumer_streams() const;
  std::size_t rollout_streams() const;
  std::uint64_t cut_off() const { return cut_off_; }  // streams ended for falling behind

 private:
  struct Stream {
    std::shared_ptr<net::StreamSink> sink;
    std::string key;  // the caller's (Caller::key)
    WatchTopics topics;
  };
  // Which streams a line goes to.
  enum class To { all, traffic, consumers, rollouts };
  void send(const EventHistory::Line& line, To to);
  using List = std::list<Stream>;
  std::unique_ptr<net::SendBatch> batch_;
  std::shared_ptr<List> sinks_ = std::make_shared<List>();
  std::uint64_t cut_off_ = 0;
};

}  // namespace dstack::directory
