// SPDX-License-Identifier: Apache-2.0
#include "bench/scenarios.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "bench/pipeline.hpp"

namespace dstack::bench {

namespace {

PipelineSpec spec_from(const Common& common) {
  PipelineSpec spec;
  spec.endpoint = common.endpoint;
  spec.connections = common.connections;
  spec.depth = common.depth;
  spec.limit = common.limit;
  spec.server_pid = common.server_pid;
  return spec;
}

bool report_error(const char* phase, const PipelineResult& r) {
  if (r.error.empty()) return false;
  std::cerr << "directory_load: " << phase << ": " << r.error << '\n';
  return true;
}

}  // namespace

int run_register(const Common& common, const RegisterOptions& options) {
  const auto& target = common.target;
  std::vector<std::string> leases(options.leases);
  std::size_t next = 0;

  auto grants = spec_from(common);
  grants.next = [&](std::size_t, std::string& out, std::uint64_t& tag) {
    if (next >= leases.size()) return false;
    tag = next++;
    target.grant(out, options.ttl);
    return true;
  };
  grants.done = [&](std::uint64_t tag, const Response& r) {
    auto id = target.lease_id(r);
    if (id) leases[tag] = *id;
    return id.has_value();
  };
  auto granted = run_pipeline(grants);
  if (report_error("grant", granted) || granted.failed > 0) {
    std::cerr << "directory_load: " << granted.failed << " lease grant(s) failed\n";
    return 1;
  }

  next = 0;
  auto puts = spec_from(common);
  puts.next = [&](std::size_t, std::string& out, std::uint64_t& tag) {
    if (next >= options.instances) return false;
    tag = next++;
    // Appended rather than "i" + to_string(): GCC 12 warns falsely (-Wrestrict) on the latter.
    std::string service = "bench-", id = "i";
    service += std::to_string(tag % options.services);
    id += std::to_string(tag);
    target.put_instance(out, service, id, leases[tag % leases.size()], "1");
    return true;
  };
  std::uint64_t first_failure_status = 0;
  puts.done = [&](std::uint64_t, const Response& r) {
    if (r.status / 100 == 2) return true;
    if (!first_failure_status) {
      first_failure_status = static_cast<std::uint64_t>(r.status);
      std::cerr << "directory_load: put answered " << r.status << ": " << r.body << '\n';
    }
    return false;
  };
  auto registered = run_pipeline(puts);
  bool failed = report_error("register", registered);

  if (!options.leases_file.empty()) {
    std::ofstream file(options.leases_file);
    for (auto& id : leases) file << id << '\n';
  }
  std::printf(
      "grants=%zu grant_rate=%.0f registrations=%llu register_rate=%.0f register_cpu_us=%.2f "
      "register_cpu_share=%.2f register_wait_share=%.2f failed=%llu\n",
      leases.size(), granted.rate(), static_cast<unsigned long long>(registered.ok),
      registered.rate(), registered.cpu_us_per_ok(), registered.cpu_share(),
      registered.wait_share(), static_cast<unsigned long long>(registered.failed));
  return failed || registered.failed > 0 ? 1 : 0;
}

int run_keepalive(const Common& common, const std::string& leases_file) {
  const auto& target = common.target;
  std::vector<std::string> leases;
  std::ifstream file(leases_file);
  for (std::string line; std::getline(file, line);)
    if (!line.empty()) leases.push_back(line);
  if (leases.empty()) {
    std::cerr << "directory_load: no lease ids in " << leases_file << '\n';
    return 1;
  }
  std::uint64_t next = 0;
  auto spec = spec_from(common);
  spec.next = [&](std::size_t, std::string& out, std::uint64_t& tag) {
    tag = next++;
    target.keepalive(out, leases[tag % leases.size()]);
    return true;
  };
  spec.done = [&](std::uint64_t, const Response& r) { return target.keepalive_ok(r); };
  auto result = run_pipeline(spec);
  bool failed = report_error("keepalive", result);
  std::printf(
      "keepalives=%llu keepalive_rate=%.0f keepalive_cpu_us=%.2f keepalive_cpu_share=%.2f "
      "keepalive_wait_share=%.2f failed=%llu\n",
      static_cast<unsigned long long>(result.ok), result.rate(), result.cpu_us_per_ok(),
      result.cpu_share(), result.wait_share(), static_cast<unsigned long long>(result.failed));
  return failed || result.failed > 0 ? 1 : 0;
}

int run_wait(const Common& common) {
  auto deadline = Clock::now() + common.limit;
  std::string request;
  common.target.health(request);
  while (Clock::now() < deadline) {
    asio::io_context io(1);
    net::tcp::socket sock(io);
    error_code ec;
    sock.connect(common.endpoint, ec);
    if (!ec) sock.write_some(asio::buffer(request), ec);
    std::string got;
    char buf[4096];
    Response r;
    std::size_t used = 0;
    while (!ec) {
      auto n = sock.read_some(asio::buffer(buf), ec);
      got.append(buf, n);
      if (parse_response(got, r, used) != Parse::more) break;
    }
    if (r.status == 200) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "directory_load: " << common.target.name() << " did not get healthy in "
            << common.limit.count() << " s\n";
  return 1;
}

}  // namespace dstack::bench
