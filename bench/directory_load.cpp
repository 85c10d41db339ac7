// SPDX-License-Identifier: Apache-2.0
// directory_load: the load driver of bench/run. One scenario per subcommand, against the
// directory or etcd's JSON gateway (--target), printing `key=value` figures on one line.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "bench/scenarios.hpp"
#include "common/config/checks.hpp"
#include "common/net/address.hpp"

namespace {

using namespace dstack;
using namespace dstack::bench;

// Many watchers need many descriptors.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// Prints ports that were free a moment ago, for bench/run to start the servers on.
int print_free_ports(int count) {
  asio::io_context io(1);
  std::vector<net::tcp::acceptor> held;  // held together so the ports differ
  for (int i = 0; i < count; ++i) {
    held.emplace_back(io, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::cout << held.back().local_endpoint().port() << (i + 1 < count ? " " : "\n");
  }
  return 0;
}

struct Flags {
  std::string target = "directory";
  std::string address = "127.0.0.1:7400";
  std::size_t connections = 64;
  std::size_t depth = 32;
  int seconds = 60;
  int server_pid = 0;
  std::string token_file;
};

void add_common(CLI::App* cmd, Flags& flags) {
  cmd->add_option("--target", flags.target, "directory or etcd")
      ->check(CLI::IsMember({"directory", "etcd"}));
  cmd->add_option("--address", flags.address, "host:port of the server");
  cmd->add_option("--connections", flags.connections, "kept-alive connections")
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--depth", flags.depth, "requests pipelined per connection")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--seconds", flags.seconds, "time limit (keepalive: the run's length)")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--server-pid", flags.server_pid, "report this process's CPU time per operation");
  cmd->add_option("--token-file", flags.token_file, "send its first line as a bearer token");
}

Common resolve(const Flags& flags) {
  auto parsed = net::parse_host_port(flags.address, 7400);
  if (auto* why = std::get_if<std::string>(&parsed)) throw std::runtime_error("--address: " + *why);
  auto hp = std::get<net::HostPort>(parsed);
  Common c;
  c.target = Target(flags.target == "etcd" ? Kind::etcd : Kind::directory, hp.to_string());
  if (!flags.token_file.empty()) {
    std::string token;
    if (auto why = config::read_token(flags.token_file, token))
      throw std::runtime_error("--token-file: " + *why);
    c.target.set_bearer(token);
  }
  c.endpoint = net::tcp::endpoint(asio::ip::make_address(hp.host), hp.port);
  c.connections = flags.connections;
  c.depth = flags.depth;
  c.limit = std::chrono::seconds(flags.seconds);
  c.server_pid = flags.server_pid;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"directory_load: load driver for the directory and etcd benchmarks"};
  app.require_subcommand(1);
  Flags flags;
  RegisterOptions reg;
  FanoutOptions fan;
  std::string leases_file;
  int port_count = 1;

  auto* wait = app.add_subcommand("wait", "wait until the target answers its health check");
  add_common(wait, flags);
  auto* regc = app.add_subcommand("register", "grant leases, then register instances");
  add_common(regc, flags);
  regc->add_option("--leases", reg.leases, "leases to grant")->check(CLI::Range(1, 1000000));
  regc->add_option("--instances", reg.instances, "instances to register")
      ->check(CLI::Range(1, 10000000));
  regc->add_option("--services", reg.services, "services they spread over")
      ->check(CLI::Range(1, 100000));
  regc->add_option("--ttl", reg.ttl, "lease TTL in seconds")->check(CLI::Range(1, 86400));
  regc->add_option("--leases-file", reg.leases_file, "write the lease ids here");
  auto* ka = app.add_subcommand("keepalive", "renew leases round-robin for --seconds");
  add_common(ka, flags);
  ka->add_option("--leases-file", leases_file, "lease ids, one per line")->required();
  auto* fo = app.add_subcommand("fanout", "time one change's delivery to N watchers");
  add_common(fo, flags);
  fo->add_option("--watchers", fan.watchers, "watch streams")->check(CLI::Range(1, 100000));
  fo->add_option("--rounds", fan.rounds, "changes timed")->check(CLI::Range(1, 100000));
  auto* fp = app.add_subcommand("free-port", "print free loopback ports");
  fp->add_option("--count", port_count, "how many")->check(CLI::Range(1, 100));

  CLI11_PARSE(app, argc, argv);
  raise_fd_limit();
  try {
    if (*fp) return print_free_ports(port_count);
    auto common = resolve(flags);
    if (*wait) return run_wait(common);
    if (*regc) return run_register(common, reg);
    if (*ka) return run_keepalive(common, leases_file);
    return run_fanout(common, fan);
  } catch (const std::exception& e) {
    std::cerr << "directory_load: " << e.what() << '\n';
    return 1;
  }
}
