// SPDX-License-Identifier: Apache-2.0
#pragma once
// A real etcd cluster (Debian's etcd-server) of one or more members on loopback, each with free
// client and peer ports and its own data dir; members can be killed and started again. Raw
// shorthands for etcd's JSON gateway (put, delete, compact, revision, leader) let tests change
// the store behind dstack's back. Elections are fast (50 ms heartbeat, 500 ms election timeout)
// so failover tests stay short.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness.hpp"

namespace dstack::test {

class EtcdCluster {
 public:
  explicit EtcdCluster(int members = 1, std::vector<std::string> extra_args = {});
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Starts every member and waits until the cluster has a leader. Throws with a member's stderr
  // when it does not come up.
  void start();
  void kill(int member);             // SIGKILL
  void signal(int member, int sig);  // SIGSTOP / SIGCONT: a member that hangs
  void restart(int member);          // start a killed member again, with its data
  bool running(int member);

  int size() const { return static_cast<int>(members_.size()); }
  std::uint16_t client_port(int member) const;
  // etcd://127.0.0.1:P1,127.0.0.1:P2.../PREFIX over every member (or only `member`).
  std::string address(const std::string& prefix = "/dstack") const;
  std::string address_of(int member, const std::string& prefix = "/dstack") const;

  // The member that leads now, or -1 when no live member knows of a leader.
  int leader();
  // POST `path` with `body` to the first live member that answers 200; throws otherwise.
  nlohmann::json call(const std::string& path, const nlohmann::json& body);
  std::uint64_t revision();
  void put(const std::string& key, const std::string& value);
  void remove(const std::string& key);
  void compact(std::uint64_t revision);

  static std::string b64(const std::string& bytes);

 private:
  struct Member {
    std::string name;
    std::uint16_t client = 0, peer = 0;
    std::unique_ptr<Process> process;
  };
  std::vector<std::string> argv(int member, bool existing) const;
  void start_member(int member, bool existing);

  TempDir dir_;
  std::vector<Member> members_;
  std::vector<std::string> extra_args_;
};

}  // namespace dstack::test
