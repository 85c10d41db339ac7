// SPDX-License-Identifier: Apache-2.0
#include "etcd_fixture.hpp"

#include <csignal>
#include <stdexcept>

namespace dstack::test {

using nlohmann::json;

namespace {

std::string url(std::uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

}  // namespace

std::string EtcdCluster::b64(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += table[(n >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

EtcdCluster::EtcdCluster(int members, std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {
  for (int i = 0; i < members; ++i)
    members_.push_back({"m" + std::to_string(i), free_port(), free_port(), nullptr});
}

EtcdCluster::~EtcdCluster() = default;  // each Process destructor kills and reaps

std::vector<std::string> EtcdCluster::argv(int member, bool existing) const {
  const auto& m = members_.at(member);
  std::string cluster;
  for (const auto& other : members_)
    cluster += (cluster.empty() ? "" : ",") + other.name + "=" + url(other.peer);
  std::vector<std::string> out{
      "etcd",
      "--name=" + m.name,
      "--data-dir=" + (dir_.path() / m.name).string(),
      "--listen-client-urls=" + url(m.client),
      "--advertise-client-urls=" + url(m.client),
      "--listen-peer-urls=" + url(m.peer),
      "--initial-advertise-peer-urls=" + url(m.peer),
      "--initial-cluster=" + cluster,
      "--initial-cluster-state=" + std::string(existing ? "existing" : "new"),
      "--initial-cluster-token=dstack-test",
      "--heartbeat-interval=50",
      "--election-timeout=500",
      "--logger=zap",
      "--log-level=warn"};
  out.insert(out.end(), extra_args_.begin(), extra_args_.end());
  return out;
}

void EtcdCluster::start_member(int member, bool existing) {
  auto argv_ = argv(member, existing);
  // Process runs execv: find etcd on PATH once.
  for (const char* dir : {"/usr/bin/", "/usr/local/bin/"}) {
    if (std::filesystem::exists(std::string(dir) + "etcd")) {
      argv_[0] = std::string(dir) + "etcd";
      break;
    }
  }
  auto log_dir = dir_.path() / ("log-" + members_[member].name);
  std::filesystem::create_directories(log_dir);
  members_[member].process = std::make_unique<Process>(argv_, log_dir);
}

void EtcdCluster::start() {
  for (int i = 0; i < size(); ++i) start_member(i, false);
  bool up = poll_until(
      30s, [&] { return leader() >= 0; }, 50ms);
  for (int i = 0; i < size(); ++i) {
    if (!members_[i].process->running())
      throw std::runtime_error("etcd member " + members_[i].name + " exited; stderr:\n" +
                               members_[i].process->stderr_text());
  }
  if (!up) throw std::runtime_error("the etcd cluster elected no leader within 30 s");
}

void EtcdCluster::kill(int member) {
  auto& p = members_.at(member).process;
  if (!p) return;
  p->kill(SIGKILL);
  p->wait(10s);
}

void EtcdCluster::signal(int member, int sig) {
  if (auto& p = members_.at(member).process) p->kill(sig);
}

void EtcdCluster::restart(int member) {
  start_member(member, true);
  bool up = poll_until(
      30s, [&] { return http(client_port(member), "GET", "/health", "", {}, 1s).status == 200; },
      50ms);
  if (!up)
    throw std::runtime_error("etcd member " + members_[member].name +
                             " did not come back; stderr:\n" +
                             members_[member].process->stderr_text());
}

bool EtcdCluster::running(int member) {
  auto& p = members_.at(member).process;
  return p && p->running();
}

std::uint16_t EtcdCluster::client_port(int member) const {
  return members_.at(member).client;
}

std::string EtcdCluster::address(const std::string& prefix) const {
  std::string out = "etcd://";
  for (int i = 0; i < size(); ++i)
    out += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(members_[i].client);
  return out + prefix;
}

std::string EtcdCluster::address_of(int member, const std::string& prefix) const {
  return "etcd://127.0.0.1:" + std::to_string(client_port(member)) + prefix;
}

int EtcdCluster::leader() {
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    auto r = http(client_port(i), "POST", "/v3/maintenance/status", "{}", {}, 1s);
    if (r.status != 200) continue;
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("leader") || !j["leader"].is_string()) continue;
    const auto lead = j["leader"].get<std::string>();
    // Find which member that is: each member's status names itself in its header.
    for (int k = 0; k < size(); ++k) {
      if (!running(k)) continue;
      auto s = http(client_port(k), "POST", "/v3/maintenance/status", "{}", {}, 1s);
      auto sj = json::parse(s.body, nullptr, false);
      if (s.status == 200 && sj.is_object() && sj["header"].value("member_id", "") == lead)
        return k;
    }
  }
  return -1;
}

json EtcdCluster::call(const std::string& path, const json& body) {
  std::string last;
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    auto r = http(client_port(i), "POST", path, body.dump(), {}, 5s);
    if (r.status == 200) return json::parse(r.body);
    last = std::to_string(r.status) + " " + r.error + " " + r.body;
  }
  throw std::runtime_error("etcd " + path + " failed on every member: " + last);
}

std::uint64_t EtcdCluster::revision() {
  auto j = call("/v3/maintenance/status", json::object());
  return std::stoull(j["header"]["revision"].get<std::string>());
}

void EtcdCluster::put(const std::string& key, const std::string& value) {
  call("/v3/kv/put", {{"key", b64(key)}, {"value", b64(value)}});
}

void EtcdCluster::remove(const std::string& key) {
  call("/v3/kv/deleterange", {{"key", b64(key)}});
}

void EtcdCluster::compact(std::uint64_t revision) {
  call("/v3/kv/compaction", {{"revision", std::to_string(revision)}, {"physical", true}});
}

}  // namespace dstack::test
