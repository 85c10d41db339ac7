// SPDX-License-Identifier: Apache-2.0
// sherlock's benchmark driver (bench/sherlock_bench runs it), against the directory or etcd
// (--target; the requests are bench/target.cpp's, as the etcd backend (docs/etcd.md) reads them):
//   populate     grant leases and register SERVICES x INSTANCES instances
//   propagation  time each change from the backend's acknowledgement to HAProxy showing it,
//                read from HAProxy's admin socket (`get weight`) in a tight loop; with several
//                admin sockets (several sherlocks), until the last of them shows it; and each
//                write's own round trip (write_*)
// Plain blocking sockets: one request at a time is what is being timed, and no Asio keeps this
// file quick to build.

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/http_client.hpp"
#include "bench/target.hpp"

namespace dstack::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string service_name(std::size_t i) {
  return "svc-" + std::to_string(i);
}

// The instance URL: every instance of the bench points at one of the sink's ports.
std::string instance_url(const std::vector<int>& sink_ports, std::size_t i) {
  return "http://127.0.0.1:" + std::to_string(sink_ports[i % sink_ports.size()]) + "/app";
}

// One command on HAProxy's admin socket, the answer without its trailing blank line.
std::string admin(const std::string& socket_path, const std::string& command) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string line = command + "\n";
    if (::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
    }
  }
  ::close(fd);
  while (!out.empty() && (out.back() == '\n')) out.pop_back();
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::vector<int> parse_ports(const std::string& text) {
  std::vector<int> ports;
  std::size_t at = 0;
  while (at < text.size()) {
    auto comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    ports.push_back(std::stoi(text.substr(at, comma - at)));
    at = comma + 1;
  }
  return ports;
}

// --- populate -------------------------------------------------------------------------------

struct Population {
  std::string target = "directory";
  std::string address;
  std::size_t services = 1000;
  std::size_t instances = 10000;
  std::size_t leases = 100;
  std::size_t connections = 8;
  std::string sink_ports;
  std::string lease_file;
};

Target make_target(const std::string& kind, const std::string& address) {
  return Target(kind == "etcd" ? Kind::etcd : Kind::directory, address);
}

bool ok(const HttpAnswer& r) {
  return r.status / 100 == 2;
}

int populate(const Population& p) {
  const Target target = make_target(p.target, p.address);
  const auto sinks = parse_ports(p.sink_ports);
  std::vector<std::string> leases;
  HttpClient client(p.address);
  for (std::size_t i = 0; i < p.leases; ++i) {
    std::string wire;
    target.grant(wire, 3600);
    auto r = client.send(wire);
    auto id = target.lease_id(r);
    if (!id) {
      std::cerr << "sherlock_load: lease grant answered " << r.status << ": " << r.body << "\n";
      return 1;
    }
    leases.push_back(*id);
  }
  // A few connections at once: not timed, but etcd syncs each write to disk, and one write at
  // a time would take minutes for 10,000.
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < p.connections; ++w) {
    workers.emplace_back([&, w] {
      HttpClient conn(p.address);
      for (std::size_t i = w; i < p.instances && !failed; i += p.connections) {
        std::string wire;
        target.put_instance(wire, service_name(i % p.services), "i" + std::to_string(i),
                            leases[i % leases.size()], instance_url(sinks, i), "1", 100);
        auto r = conn.send(wire);
        if (!ok(r)) {
          if (!failed.exchange(true))
            std::cerr << "sherlock_load: register answered " << r.status << ": " << r.body << "\n";
          return;
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  if (failed) return 1;
  std::ofstream(p.lease_file) << leases.front() << "\n";
  std::printf("services=%zu instances=%zu\n", p.services, p.instances);
  return 0;
}

// --- propagation ----------------------------------------------------------------------------

struct Propagation {
  std::string target = "directory";
  std::string address;
  std::vector<std::string> admin_sockets;  // one per HAProxy that must show each change
  std::string lease;
  std::string sink_ports;
  std::size_t services = 1000;
  std::size_t instances = 10000;
  int rounds = 300;
  int weight = 50;  // weight changes go between 100 and this
  int timeout_ms = 5000;
};

// Polls every HAProxy until `applied(socket index, answer)` holds for each; the time from
// `since` to the last of them, in ms, or -1 at the timeout.
template <typename Pred>
double wait_applied(const Propagation& p, const std::string& command, Clock::time_point since,
                    Pred applied) {
  const auto deadline = since + std::chrono::milliseconds(p.timeout_ms);
  std::vector<bool> done(p.admin_sockets.size(), false);
  std::size_t left = done.size();
  while (Clock::now() < deadline) {
    for (std::size_t s = 0; s < done.size(); ++s) {
      if (done[s] || !applied(s, admin(p.admin_sockets[s], command))) continue;
      done[s] = true;
      if (--left == 0)
        return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
    }
    // A short pause: a poller spinning flat out would take a core from sherlock on 2 CPUs.
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return -1;
}

int propagation(const Propagation& p) {
  const Target target = make_target(p.target, p.address);
  HttpClient client(p.address);
  const auto sinks = parse_ports(p.sink_ports);
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, p.instances - 1);
  std::vector<double> weight_ms, add_ms, remove_ms, write_ms;
  std::map<std::size_t, int> weights;  // instance -> the weight last written (absent: 100)
  int lost = 0;
  auto record = [&lost](double ms, std::vector<double>& into) {
    if (ms < 0)
      ++lost;
    else
      into.push_back(ms);
  };
  // One write; the moment its answer has been read, or nothing when it failed.
  // Its round trip is kept apart: for etcd it includes the fsync of the raft log.
  auto write = [&](const std::string& wire) -> std::optional<Clock::time_point> {
    const auto sent = Clock::now();
    auto r = client.send(wire);
    auto acked = Clock::now();
    write_ms.push_back(std::chrono::duration<double, std::milli>(acked - sent).count());
    if (!ok(r)) {
      std::cerr << "sherlock_load: " << target.name() << " answered " << r.status << ": " << r.body
                << "\n";
      return std::nullopt;
    }
    return acked;
  };
  for (int round = 0; round < p.rounds; ++round) {
    // A weight change: one instance between weight 100 and p.weight; its server's weight moves.
    const std::size_t i = pick(rng);
    const std::string svc = service_name(i % p.services), id = "i" + std::to_string(i);
    const std::string get = "get weight be_" + svc + "/" + id;
    std::vector<std::string> before;
    for (const auto& socket : p.admin_sockets) before.push_back(admin(socket, get));
    auto w = weights.try_emplace(i, 100).first;
    w->second = w->second == 100 ? p.weight : 100;
    // A change to an instance another lease holds moves it to this lease: fine for the bench.
    std::string wire;
    target.put_instance(wire, svc, id, p.lease, instance_url(sinks, i), "1", w->second);
    auto acked = write(wire);
    if (!acked) return 1;
    double ms = wait_applied(p, get, *acked,
                             [&](std::size_t s, const std::string& a) { return a != before[s]; });
    record(ms, weight_ms);

    // An instance added to a service, then removed.
    const std::string extra = "extra-" + std::to_string(p.weight) + "-" + std::to_string(round);
    const std::string get_extra = "get weight be_" + svc + "/" + extra;
    wire.clear();
    target.put_instance(wire, svc, extra, p.lease, instance_url(sinks, i), "1", 100);
    if (!(acked = write(wire))) return 1;
    ms = wait_applied(p, get_extra, *acked, [](std::size_t, const std::string& a) {
      return a.find("No such server") == std::string::npos && !a.empty();
    });
    record(ms, add_ms);

    wire.clear();
    target.delete_instance(wire, svc, extra);
    if (!(acked = write(wire))) return 1;
    // Removed: in maintenance at once (weight no longer served), deleted when idle.
    ms = wait_applied(p, "show servers state be_" + svc, *acked,
                      [&](std::size_t, const std::string& a) {
                        auto at = a.find(" " + extra + " ");
                        if (at == std::string::npos) return true;  // deleted
                        // Fields after the name: addr, op_state, admin_state; admin_state bit
                        // 0x1 = forced maintenance.
                        std::istringstream fields(a.substr(at + extra.size() + 2));
                        std::string addr;
                        int op = 0, adm = 0;
                        fields >> addr >> op >> adm;
                        return (adm & 1) != 0;
                      });
    record(ms, remove_ms);
  }
  std::vector<double> all = weight_ms;
  all.insert(all.end(), add_ms.begin(), add_ms.end());
  all.insert(all.end(), remove_ms.begin(), remove_ms.end());
  auto line = [](const char* name, const std::vector<double>& v) {
    std::printf("%s_n=%zu %s_p50_ms=%.2f %s_p99_ms=%.2f %s_max_ms=%.2f ", name, v.size(), name,
                percentile(v, 0.5), name, percentile(v, 0.99), name,
                v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()));
  };
  line("weight", weight_ms);
  line("add", add_ms);
  line("remove", remove_ms);
  line("all", all);
  line("write", write_ms);
  std::printf("not_applied=%d\n", lost);
  return lost > 0 ? 1 : 0;
}

}  // namespace
}  // namespace dstack::bench

int main(int argc, char** argv) {
  using namespace dstack::bench;
  CLI::App app{"sherlock's benchmark driver"};
  app.require_subcommand(1);
  const auto backend = CLI::IsMember({"directory", "etcd"});
  Population pop;
  auto* pc = app.add_subcommand("populate", "grant leases and register the instances");
  pc->add_option("--target", pop.target, "directory or etcd (its JSON gateway)")->check(backend);
  pc->add_option("--address,--directory", pop.address, "host:port")->required();
  pc->add_option("--services", pop.services)->check(CLI::Range(1, 100000));
  pc->add_option("--instances", pop.instances)->check(CLI::Range(1, 1000000));
  pc->add_option("--connections", pop.connections, "registrations in flight at once")
      ->check(CLI::Range(1, 64));
  pc->add_option("--sink-ports", pop.sink_ports, "comma-separated ports instances point at")
      ->required();
  pc->add_option("--lease-file", pop.lease_file, "where to write a lease id for later changes")
      ->required();
  Propagation prop;
  auto* pp = app.add_subcommand("propagation", "time changes from the backend to HAProxy");
  pp->add_option("--target", prop.target, "directory or etcd (its JSON gateway)")->check(backend);
  pp->add_option("--address,--directory", prop.address, "host:port")->required();
  pp->add_option("--admin-socket", prop.admin_sockets,
                 "HAProxy's admin socket; repeated: each change is timed until all show it")
      ->required();
  pp->add_option("--lease", prop.lease, "a lease id from populate")->required();
  pp->add_option("--sink-ports", prop.sink_ports)->required();
  pp->add_option("--services", prop.services)->check(CLI::Range(1, 100000));
  pp->add_option("--instances", prop.instances)->check(CLI::Range(1, 1000000));
  pp->add_option("--rounds", prop.rounds)->check(CLI::Range(1, 100000));
  pp->add_option("--weight", prop.weight,
                 "weight changes go between 100 and this; runs on one population need different "
                 "ones, so that each write changes something (also names the added instances)")
      ->check(CLI::Range(1, 99));
  CLI11_PARSE(app, argc, argv);
  if (pc->parsed()) return populate(pop);
  return propagation(prop);
}
