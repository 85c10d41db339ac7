// SPDX-License-Identifier: Apache-2.0
#include "watson_fixture.hpp"

#include <signal.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dstack::test {

namespace fs = std::filesystem;

std::string watson_binary() {
  return DSTACK_WATSON_BIN;
}

WatsonRun run_to_end(const std::vector<std::string>& argv, const fs::path& log_dir,
                     Clock::duration timeout) {
  Process p(argv, log_dir);
  WatsonRun r;
  r.status = p.wait(timeout);
  if (!r.status) {
    p.kill(SIGKILL);
    p.wait(5s);
  }
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  return r;
}

json dig(const json& j, std::initializer_list<std::string> keys) {
  const json* at = &j;
  for (auto& k : keys) {
    if (!at->is_object() || !at->contains(k)) return nullptr;
    at = &(*at)[k];
  }
  return *at;
}

Watson::Watson(WatsonOptions options) : options_(std::move(options)), port_(free_port()) {
  fs::create_directories(services_dir());
  for (auto& [name, yaml] : options_.services) write_service(name, yaml);
}

Watson::~Watson() = default;  // the Process destructor kills and reaps

std::vector<std::string> Watson::argv() const {
  const std::string listen = "127.0.0.1:" + std::to_string(port_);
  if (!options_.quick_args.empty()) {
    std::vector<std::string> argv{watson_binary()};
    argv.insert(argv.end(), options_.quick_args.begin(), options_.quick_args.end());
    argv.insert(argv.end(), {"--listen", listen, "--log-level", "debug"});
    return argv;
  }
  // Written on every start: the port may have changed after a lost bind race.
  std::string yaml;
  if (!options_.directories.empty()) {
    yaml += "directories:\n";
    for (auto& d : options_.directories) yaml += "  - \"" + d + "\"\n";
  }
  yaml += "services_dir: " + services_dir().string() + "\n";
  yaml += "lease_ttl: " + std::to_string(options_.lease_ttl) + "s\n";
  yaml += "listen: " + listen + "\n";
  yaml += "log_level: debug\n";
  yaml += options_.extra_config;
  dir_.write("watson.yaml", yaml);
  return {watson_binary(), "-c", config_path().string()};
}

void Watson::start() {
  if (process_ && process_->running()) throw std::logic_error("watson already runs");
  for (int attempt = 0;; ++attempt) {
    process_ = std::make_unique<Process>(argv(), dir_.path());
    const bool answered = poll_until(
        15s,
        [&] {
          if (!process_->running()) return true;
          return http(port_, "GET", "/v1/status", "", {}, 1s).status == 200;
        },
        20ms);
    if (answered && process_->running()) return;
    const std::string err = process_->stderr_text();
    // Another test may have taken the port between free_port() and watson's bind.
    if (!process_->running() && attempt < 3 &&
        err.find(std::to_string(port_)) != std::string::npos) {
      port_ = free_port();
      continue;
    }
    throw std::runtime_error("watson did not come up on port " + std::to_string(port_) +
                             "; stderr:\n" + err);
  }
}

WatsonRun Watson::run(const std::vector<std::string>& args, Clock::duration timeout) const {
  auto argv = this->argv();
  argv.insert(argv.end(), args.begin(), args.end());
  return run_to_end(argv, dir_.path(), timeout);
}

Response Watson::get(const std::string& target) const {
  return http(port_, "GET", target, "", {}, 2s);
}

json Watson::status() const {
  auto r = get("/v1/status");
  if (r.status != 200) return nullptr;
  return json::parse(r.body, nullptr, false);
}

json Watson::service(const std::string& name, const std::string& id) const {
  auto s = status();
  if (!s.is_object() || !s["services"].is_array()) return nullptr;
  for (auto& entry : s["services"])
    if (entry.value("service", "") == name && (id.empty() || entry.value("id", "") == id))
      return entry;
  return nullptr;
}

int Watson::checks(const std::string& name) const {
  auto n = dig(service(name), {"check", "checks"});
  return n.is_number() ? n.get<int>() : 0;
}

std::string Watson::output(const std::string& name) const {
  auto o = dig(service(name), {"check", "output"});
  return o.is_string() ? o.get<std::string>() : std::string();
}

json Watson::directory(const std::string& url) const {
  for (auto& d : dig(status(), {"directories"}))
    if (d.value("directory", "") == url) return d;
  return json::object();
}

bool Watson::has_problem(const std::string& line) const {
  for (auto& p : dig(status(), {"problems"}))
    if (p == line) return true;
  return false;
}

double Watson::metric(const std::string& name) const {
  auto r = get("/metrics");
  const std::string start = "\n" + name + " ";
  auto at = ("\n" + r.body).find(start);
  return at == std::string::npos ? -1 : std::stod(r.body.substr(at + start.size() - 1));
}

fs::path Watson::write_service(const std::string& name, const std::string& yaml) const {
  const auto tmp = dir_.write("." + name + ".tmp", yaml);  // outside services_dir: not watched
  const auto path = services_dir() / name;
  fs::rename(tmp, path);
  return path;
}

void Watson::overwrite_service(const std::string& name, const std::string& yaml) const {
  std::ofstream out(services_dir() / name, std::ios::binary | std::ios::trunc);
  out << yaml;
  if (!out.flush()) throw std::runtime_error("cannot write service file " + name);
}

void Watson::overwrite_service_unwatched(const std::string& name, const std::string& yaml) const {
  const auto link = dir_.path() / ("." + name + ".link");
  fs::remove(link);
  fs::create_hard_link(services_dir() / name, link);
  std::ofstream out(link, std::ios::binary | std::ios::trunc);
  out << yaml;
  if (!out.flush()) throw std::runtime_error("cannot write service file " + name);
}

void Watson::remove_service(const std::string& name) const {
  fs::remove(services_dir() / name);
}

void Watson::sighup() {
  process_->kill(SIGHUP);
}
void Watson::sigterm() {
  process_->kill(SIGTERM);
}

Response Watson::maint_api(const std::string& service, const std::string& query) const {
  return http(port_, "PUT", "/v1/maintenance/" + service + "?" + query, "", {}, 5s);
}

WatsonRun Watson::maint_cli(const std::string& service, const std::string& on_off,
                            const std::string& reason) const {
  std::vector<std::string> argv{watson_binary(), "maint", service,
                                on_off,          "--api", "127.0.0.1:" + std::to_string(port_)};
  if (!reason.empty()) argv.insert(argv.end(), {"--reason", reason});
  return run_to_end(argv, dir_.path());
}

long Watson::rss_kib() const {
  if (!process_) return -1;
  std::ifstream in("/proc/" + std::to_string(process_->pid()) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace dstack::test
