// SPDX-License-Identifier: Apache-2.0
#include "sherlock_fixture.hpp"

#include <signal.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace dstack::test {

std::string sherlock_binary() {
  return DSTACK_SHERLOCK_BIN;
}

Sherlock::Sherlock(SherlockOptions options)
    : options_(std::move(options)), proxy_port_(free_port()), api_port_(free_port()) {}

Sherlock::~Sherlock() {
  if (process_) process_->kill(SIGKILL);
  // HAProxy runs in its own process group (its master's pid): kill master and workers.
  if (pid_t hap = haproxy_pid(); hap > 0) ::kill(-hap, SIGKILL);
}

std::vector<std::string> Sherlock::argv() const {
  write_config();
  return {sherlock_binary(), "-c", config_path().string()};
}

void Sherlock::write_config() const {
  std::string yaml;
  if (!options_.directories.empty()) {
    yaml += "directories:\n";
    for (const auto& d : options_.directories) yaml += "  - \"" + d + "\"\n";
  }
  if (!options_.consumer.empty()) yaml += "consumer: " + options_.consumer + "\n";
  yaml += "proxy:\n  listen: 127.0.0.1:" + std::to_string(proxy_port_) + "\n";
  if (!options_.tcp.empty()) {
    yaml += "tcp:\n";
    for (const auto& [svc, port] : options_.tcp)
      yaml += "  " + svc + ": " + std::to_string(port) + "\n";
  }
  yaml += "haproxy:\n";
  yaml += "  run_dir: " + run_dir().string() + "\n";
  yaml += "  min_reload_interval: " + options_.min_reload_interval + "\n";
  yaml += "  health_check_interval: " + options_.health_check_interval + "\n";
  yaml += options_.haproxy_extra;
  yaml += "state_dir: " + state_dir().string() + "\n";
  yaml += "listen: 127.0.0.1:" + std::to_string(api_port_) + "\n";
  yaml += "log_level: debug\n";
  yaml += options_.extra_config;
  dir_.write("sherlock.yaml", yaml);
}

void Sherlock::start() {
  if (process_ && process_->running()) throw std::logic_error("sherlock already runs");
  process_ = std::make_unique<Process>(argv(), dir_.path());
  const bool up = poll_until(
      20s,
      [&] {
        if (!process_->running()) return true;
        auto s = status();
        return s.is_object() && s["haproxy"]["serving"] == true;
      },
      20ms);
  if (up && process_->running()) return;
  throw std::runtime_error("sherlock did not come up (proxy port " + std::to_string(proxy_port_) +
                           "); stderr:\n" + process_->stderr_text());
}

void Sherlock::kill9() {
  process_->kill(SIGKILL);
  process_->wait(5s);
}

void Sherlock::sigterm() {
  process_->kill(SIGTERM);
}

void Sherlock::sighup() {
  process_->kill(SIGHUP);
}

std::optional<int> Sherlock::wait(Clock::duration timeout) {
  return process_->wait(timeout);
}

SherlockRun Sherlock::run(const std::vector<std::string>& args, Clock::duration timeout) const {
  auto a = argv();
  a.insert(a.end(), args.begin(), args.end());
  TempDir logs;
  Process p(a, logs.path());
  SherlockRun r;
  r.status = p.wait(timeout);
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  return r;
}

json Sherlock::status() const {
  auto r = http(api_port_, "GET", "/v1/status", "", {}, 2s);
  if (r.status != 200) return nullptr;
  auto j = json::parse(r.body, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

double Sherlock::metric(const std::string& name) const {
  auto r = http(api_port_, "GET", "/metrics", "", {}, 2s);
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

pid_t Sherlock::haproxy_pid() const {
  std::ifstream in(run_dir() / "haproxy.pid");
  long pid = 0;
  if (!(in >> pid)) return 0;
  return static_cast<pid_t>(pid);
}

pid_t Sherlock::haproxy_worker_pid() const {
  const pid_t master = haproxy_pid();
  if (master <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(master) + "/task/" + std::to_string(master) +
                   "/children");
  pid_t newest = 0;
  for (long pid = 0; in >> pid;) newest = static_cast<pid_t>(pid);  // the newest worker is last
  return newest;
}

Response Sherlock::get(const std::string& target, const Headers& headers,
                       Clock::duration timeout) const {
  return http(proxy_port_, "GET", target, "", headers, timeout);
}

std::map<std::string, int> Sherlock::weights(const std::string& service) const {
  std::map<std::string, int> out;
  auto s = status();
  if (!s.is_object() || !s["services"].contains(service)) return out;
  for (const auto& srv : s["services"][service]["servers"])
    out[srv["id"].get<std::string>()] = srv["weight"].get<int>();
  return out;
}

bool Sherlock::wait_applied(const std::string& service, std::size_t servers,
                            Clock::duration timeout, bool any_weight) const {
  nlohmann::json last;
  const bool ok = poll_until(timeout, [&] {
    last = status();
    auto& s = last;
    if (!s.is_object() || !s["services"].contains(service)) return false;
    if (s["haproxy"]["reload_pending"] == true) return false;
    std::size_t n = 0;
    for (const auto& srv : s["services"][service]["servers"])
      if (any_weight || srv["weight"].get<int>() > 0) ++n;
    return n == servers;
  });
  // What sherlock said last is what tells a failing test's reader why.
  if (!ok)
    std::cerr << "sherlock status after waiting for " << service << ": " << last.dump(2) << "\n";
  return ok;
}

}  // namespace dstack::test
