// SPDX-License-Identifier: Apache-2.0
#pragma once
// The same operations, spelled for each target: the directory's API (docs/api.md) or etcd's JSON
// gateway with instances at /dstack/instances/SVC/ID (docs/etcd.md#key-layout). Requests are
// appended to a buffer so that a connection can pipeline a batch in one write.

#include <optional>
#include <string>
#include <string_view>

#include "bench/http_wire.hpp"

namespace dstack::bench {

enum class Kind { directory, etcd };

std::string base64(std::string_view bytes);

class Target {
 public:
  Target(Kind kind, std::string host_port) : kind_(kind), host_(std::move(host_port)) {}

  Kind kind() const { return kind_; }
  // Sends `Authorization: Bearer SECRET` with every request (a directory with tokens).
  void set_bearer(const std::string& secret) { authorization_ = "Bearer " + secret; }
  std::string_view name() const { return kind_ == Kind::directory ? "directory" : "etcd"; }

  void health(std::string& out) const;
  void grant(std::string& out, int ttl) const;
  std::optional<std::string> lease_id(const Response& r) const;  // from grant's answer
  void keepalive(std::string& out, const std::string& lease) const;
  bool keepalive_ok(const Response& r) const;
  void put_instance(std::string& out, const std::string& service, const std::string& id,
                    const std::string& lease, const std::string& version) const;
  // An instance as sherlock's backends read it (bench/sherlock_load): the directory's PUT body,
  // which for etcd is the key's value that the etcd backend (docs/etcd.md) validates and reads.
  void put_instance(std::string& out, const std::string& service, const std::string& id,
                    const std::string& lease, const std::string& url, const std::string& version,
                    int weight) const;
  void delete_instance(std::string& out, const std::string& service, const std::string& id) const;

  // A watch on every instance, from now on.
  void watch(std::string& out) const;
  // The directory has registered a watcher once it answers; etcd says so in a first message.
  bool ready_at_head() const { return kind_ == Kind::directory; }
  bool ready_line(std::string_view line) const;
  // Text that appears, verbatim, in the watch line announcing that put_instance(...).
  std::string marker(const std::string& service, const std::string& id, const std::string& lease,
                     const std::string& version) const;

 private:
  // The instance as JSON, shaped like the directory's; etcd stores it as the key's value.
  std::string instance_json(const std::string& service, const std::string& id,
                            const std::string& lease, const std::string& version) const;

  Kind kind_;
  std::string host_;
  std::string authorization_;
};

}  // namespace dstack::bench
