// SPDX-License-Identifier: Apache-2.0
// What the HAProxy manager reports in sherlock's /v1/status.
#include "common/net/asio.hpp"  // first: <utility> before Asio

#include <ctime>

#include "sherlock/haproxy_manager.hpp"

namespace dstack::sherlock {
namespace {

using nlohmann::json;

std::string iso_time(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

json HaproxyManager::status() const {
  json j;
  j["manage"] = config_.haproxy.manage == HaproxySettings::Manage::child ? "child" : "external";
  j["serving"] = decider_.running();
  j["pid"] = process_ ? json(process_->pid()) : json(nullptr);
  j["config"] = files_.config_path();
  if (last_reload_) {
    j["last_reload"] = {{"at", iso_time(last_reload_->at)},
                        {"ok", last_reload_->ok},
                        {"reason", last_reload_->reason},
                        {"took_ms", last_reload_->took.count()}};
    if (!last_reload_->ok) j["last_reload"]["error"] = last_reload_->error;
  } else {
    j["last_reload"] = nullptr;
  }
  j["last_error"] = last_error_.empty() ? json(nullptr) : json(last_error_);
  j["reload_pending"] = decider_.reload_wanted() || needs_reload(*applied_, *desired_);
  j["lingering_servers"] = lingering_.size();
  j["counters"] = {{"reloads", counters_.reloads},
                   {"reload_failures", counters_.reload_failures},
                   {"failed_validations", counters_.failed_validations},
                   {"runtime_updates", counters_.runtime_updates},
                   {"runtime_failures", counters_.runtime_failures},
                   {"haproxy_starts", counters_.haproxy_starts},
                   {"haproxy_exits", counters_.haproxy_exits}};
  return j;
}

}  // namespace dstack::sherlock
