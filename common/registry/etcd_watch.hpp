// SPDX-License-Identifier: Apache-2.0
#pragma once
// An etcd watch over everything under the prefix, as a Registry Watch: one long-lived stream
// (POST /v3/watch with progress notifications), opened again from the last revision handed out
// whenever it ends (the member died, or nothing arrived for the idle timeout), on the next
// member when needed, so nothing is missed and nothing replayed. A compacted revision or
// another cluster is `stale`: the caller reads everything again.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "common/registry/etcd_keys.hpp"
#include "common/registry/etcd_members.hpp"
#include "common/registry/registry.hpp"

namespace dstack::registry::etcd {

class EtcdWatch final : public Watch {
 public:
  // Events after `since`; `epoch` (etcd's cluster id) must be the one it came from, if given.
  EtcdWatch(Members& members, const KeyLayout& keys, std::uint64_t since, std::string epoch)
      : members_(members), keys_(keys), revision_(since), epoch_(std::move(epoch)) {}
  ~EtcdWatch() override {
    if (stream_) stream_->close();
  }

  awaitable<Result<model::Event>> next() override;
  std::uint64_t revision() const override { return revision_; }

  // Opens the first stream, so that watch() itself reports an unreachable cluster.
  awaitable<Status> open();

 private:
  // One line of the stream; an event or two may land in pending_.
  awaitable<Status> read_line(const std::string& line);

  Members& members_;
  const KeyLayout& keys_;
  std::unique_ptr<net::LineStream> stream_;
  std::deque<model::Event> pending_;  // events of an answer not handed out yet
  std::uint64_t revision_;            // everything up to here is in pending_ or handed out
  std::string epoch_;
  int quiet_failures_ = 0;  // streams in a row that ended before saying anything
};

}  // namespace dstack::registry::etcd
