// SPDX-License-Identifier: Apache-2.0
#include "directory_fixture.hpp"

#include <signal.h>

#include <stdexcept>

namespace dstack::test {

std::string directory_binary() {
  return DSTACK_DIRECTORY_BIN;
}

json body_json(const Response& r) {
  return json::parse(r.body, nullptr, false);
}

Directory::Directory(DirectoryOptions options) : options_(std::move(options)), port_(free_port()) {
  dir_.write("directory.yaml", options_.config);
  for (auto& [name, text] : options_.files) dir_.write(name, text);
}

Directory::~Directory() = default;  // the Process destructor kills and reaps

std::vector<std::string> Directory::argv() const {
  std::vector<std::string> argv{directory_binary(),
                                "-c",
                                config_path().string(),
                                "--listen",
                                "127.0.0.1:" + std::to_string(port_),
                                "--data-dir",
                                data_dir().string()};
  for (auto arg : options_.args) {
    if (auto at = arg.find("{dir}"); at != std::string::npos) arg.replace(at, 5, dir_.path());
    argv.push_back(arg);
  }
  return argv;
}

void Directory::start() {
  if (process_ && process_->running()) throw std::logic_error("dstack-directory already runs");
  for (int attempt = 0;; ++attempt) {
    process_ = std::make_unique<Process>(argv(), dir_.path());
    const bool answered = poll_until(
        15s,
        [&] {
          if (!process_->running()) return true;
          if (options_.tls) return Conn::connect(port_, 1s).ok();
          return http(port_, "GET", "/v1/health", "", {}, 1s).status == 200;
        },
        10ms);
    if (answered && process_->running()) return;
    const std::string err = process_->stderr_text();
    // Another test may have taken the port between free_port() and the daemon's bind.
    if (!process_->running() && attempt < 3 && err.find("cannot listen") != std::string::npos) {
      port_ = free_port();
      continue;
    }
    throw std::runtime_error("dstack-directory did not come up on port " + std::to_string(port_) +
                             "; stderr:\n" + err);
  }
}

void Directory::kill9() {
  if (!process_) return;
  process_->kill(SIGKILL);
  if (!process_->wait(10s)) throw std::runtime_error("dstack-directory survived SIGKILL");
}

std::optional<int> Directory::stop() {
  if (!process_) return std::nullopt;
  process_->kill(SIGTERM);
  auto status = process_->wait(10s);
  if (!status) throw std::runtime_error("dstack-directory did not stop within 10 s of SIGTERM");
  return status;
}

Response Directory::request(const std::string& method, const std::string& target,
                            const std::string& body) const {
  Headers headers;
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  if (!options_.token.empty()) headers.emplace_back("Authorization", "Bearer " + options_.token);
  return http(port_, method, target, body, headers);
}

Response Directory::get(const std::string& target) const {
  return request("GET", target);
}
Response Directory::put(const std::string& target, const std::string& body) const {
  return request("PUT", target, body);
}
Response Directory::post(const std::string& target, const json& body) const {
  return request("POST", target, body.dump());
}
Response Directory::del(const std::string& target) const {
  return request("DELETE", target);
}

namespace {
[[noreturn]] void unexpected(const std::string& what, const Response& r) {
  throw std::runtime_error(what + " answered " + std::to_string(r.status) + " " + r.error + " " +
                           r.body);
}
}  // namespace

json Directory::snapshot() const {
  auto r = get("/v1/snapshot");
  if (r.status != 200) unexpected("GET /v1/snapshot", r);
  return body_json(r);
}

std::string Directory::grant(int ttl, const std::string& owner) {
  auto r = post("/v1/leases", {{"ttl", ttl}, {"owner", owner}});
  if (r.status != 201) unexpected("POST /v1/leases", r);
  return body_json(r)["id"].get<std::string>();
}

void Directory::put_instance(const std::string& service, const std::string& id,
                             const std::string& lease, const json& extra) {
  json body{{"lease", lease}, {"url", "http://10.0.0.1:8080/" + service}};
  body.update(extra);
  auto target = "/v1/services/" + service + "/instances/" + id;
  auto r = put(target, body);
  if (r.status != 200) unexpected("PUT " + target, r);
}

std::uint64_t Directory::revision() const {
  auto r = get("/v1/health");
  if (r.status != 200) unexpected("GET /v1/health", r);
  return body_json(r)["revision"].get<std::uint64_t>();
}

std::string Directory::epoch() const {
  auto r = get("/v1/health");
  if (r.status != 200) unexpected("GET /v1/health", r);
  return body_json(r)["epoch"].get<std::string>();
}

double Directory::metric(const std::string& name) const {
  auto r = get("/metrics");
  if (r.status != 200) unexpected("GET /metrics", r);
  const std::string line_start = "\n" + name + " ";
  auto at = ("\n" + r.body).find(line_start);
  if (at == std::string::npos) return -1;
  return std::stod(r.body.substr(at + line_start.size() - 1));
}

}  // namespace dstack::test
