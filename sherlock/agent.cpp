// SPDX-License-Identifier: Apache-2.0
#include "sherlock/agent.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <variant>

#include "common/log/log.hpp"
#include "common/metrics/writer.hpp"
#include "common/model/traffic_policy.hpp"
#include "common/model/url.hpp"
#include "sherlock/handover.hpp"

namespace dstack::sherlock {
namespace {

constexpr Duration kResolveRefresh = std::chrono::seconds(30);
constexpr Duration kSaveDelay = std::chrono::seconds(1);
constexpr Duration kStopGrace = std::chrono::seconds(10);
// Enough for a reload in flight to finish (each of its HAProxy commands has its own timeout).
constexpr Duration kReleaseTimeout = std::chrono::seconds(15);

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string("unknown");
}

std::optional<std::string> url_host(const std::string& url) {
  auto parsed = model::parse_instance_url(url);
  if (auto* u = std::get_if<model::InstanceUrl>(&parsed)) return u->host;
  return std::nullopt;
}

bool reports_traffic(const SherlockConfig& config,
                     const std::vector<std::unique_ptr<registry::Registry>>& report_to) {
  return config.insight && !config.consumer.empty() && !report_to.empty();
}

}  // namespace

Agent::Agent(asio::any_io_executor ex, const SherlockConfig& config,
             std::vector<std::unique_ptr<registry::Registry>> directories,
             std::vector<std::unique_ptr<registry::Registry>> report_to)
    : ex_(ex),
      config_(config),
      store_(config.state_dir),
      resolver_(ex, kResolveRefresh,
                [this](const std::set<std::string>& hosts) {
                  std::set<std::string> services;
                  for (const auto& h : hosts) {
                    auto it = host_services_.find(h);
                    if (it != host_services_.end())
                      services.insert(it->second.begin(), it->second.end());
                  }
                  changed(services);
                }),
      haproxy_(ex, config),
      watcher_(ex, std::move(directories), view_,
               [this](const std::set<std::string>& services) { changed(services); }),
      counter_([this](const std::string& service,
                      const std::string& id) { return version_in_view(service, id); },
               reports_traffic(config, report_to)) {
  if (reports_traffic(config, report_to))
    reporter_ = std::make_unique<Reporter>(
        ex, std::move(report_to),
        ReporterSettings{config.consumer, host_name(), config.listen.to_string(),
                         std::chrono::seconds(10), config.report_interval},
        [this] {
          counter_.drop_departed(real_clock().now());
          return counter_.take_new();
        });
}

void Agent::start_request_log() {
  if (!logs_requests(config_)) return;
  auto log = log::get("sherlock");
  // Before HAProxy starts, so its first requests are seen too. A log that cannot be opened
  // (--check-config says why first) is no reason to stop routing.
  if (!config_.access_log.empty()) {
    try {
      access_log_ = std::make_unique<AccessLog>(config_.access_log, config_.consumer);
    } catch (const std::exception& e) {
      access_log_error_ = e.what();
      log->error("{}; serving without an access log", e.what());
    }
  }
  if (!config_.insight && !access_log_) return;
  try {
    log_socket_ = std::make_unique<LogSocket>(
        ex_, runtime_paths(config_).log_socket,
        [this](std::string_view line) { request_line(line); },
        [this] {
          if (access_log_) access_log_->flush();
        });
    log_socket_->start();
  } catch (const std::exception& e) {
    log_socket_error_ = e.what();
    log->error("{}; serving without traffic insight or an access log", e.what());
  }
}

void Agent::request_line(std::string_view line) {
  const auto record = parse_request_log(line);
  if (!record) {
    ++not_requests_;
    return;
  }
  if (config_.insight) counter_.count(*record);
  if (access_log_)
    access_log_->write(*record, has_instance(*record) ? version_of(std::string(service_of(*record)),
                                                                   std::string(record->server))
                                                      : std::string());
}

void Agent::start() {
  auto log = log::get("sherlock");
  start_request_log();
  try {
    resolver_.seed(take_handover_addresses(config_.state_dir));
  } catch (const std::exception& e) {
    log->warn("ignoring the addresses the last sherlock left: {}", e.what());
  }
  try {
    if (auto saved = store_.load()) {
      auto services = view_.load(*saved);
      Plan plan;
      log->info(
          "serving the saved view from {} (revision {}, {} service(s)) until a directory "
          "answers",
          store_.path(), saved->revision, view_.services().size());
      for (const auto& s : services) replan(s, plan);
      haproxy_.submit(std::move(plan));
    }
  } catch (const std::exception& e) {
    log->error("ignoring the saved view: {}", e.what());
  }
  haproxy_.start();
  watcher_.start();
  if (reporter_) reporter_->start();
}

std::string Agent::version_of(const std::string& service, const std::string& id) const {
  return version_in_view(service, id).value_or(std::string());
}

std::optional<std::string> Agent::version_in_view(const std::string& service,
                                                  const std::string& id) const {
  auto it = view_.services().find(service);
  if (it == view_.services().end()) return std::nullopt;
  if (id.empty()) return std::string();
  // Sorted by id (directory_view.hpp): every logged request asks, so no linear scan.
  const auto& list = it->second.instances;
  auto at = std::lower_bound(
      list.begin(), list.end(), id,
      [](const model::Instance& in, const std::string& key) { return in.id < key; });
  if (at == list.end() || at->id != id) return std::nullopt;
  return at->version;
}

void Agent::reopen_logs() {
  if (access_log_) access_log_->reopen();
}

awaitable<void> Agent::stop() {
  if (log_socket_) log_socket_->stop();
  if (reporter_) {
    auto last = reporter_->stop(true);
    co_await std::move(last);
  }
  watcher_.stop();
  resolver_.stop();
  auto op = haproxy_.stop(kStopGrace);
  co_await std::move(op);
}

std::optional<std::string> Agent::handover_refusal() const {
  if (save_error_.empty()) return std::nullopt;
  return "the view cannot be saved (" + save_error_ +
         "), and the next sherlock would start from it";
}

awaitable<void> Agent::prepare_handover() {
  if (log_socket_) log_socket_->stop();
  if (reporter_) {  // the next sherlock registers on a lease of its own
    auto last = reporter_->stop(false);
    co_await std::move(last);
  }
  watcher_.stop();
  resolver_.stop();
  auto release = haproxy_.release(kReleaseTimeout);
  const pid_t haproxy = co_await std::move(release);
  saver_.join();  // a save in flight ends first: saves never overlap
  auto log = log::get("sherlock");
  try {
    store_.save(view_.to_snapshot());
    save_handover_addresses(config_.state_dir, resolver_.addresses());
  } catch (const std::exception& e) {
    log->error("{}; the next sherlock starts from the view saved last", e.what());
  }
  if (haproxy != 0)
    log->info("HAProxy (pid {}) keeps serving; the view is saved for the next sherlock", haproxy);
}

void Agent::changed(const std::set<std::string>& services) {
  if (services.empty()) return;
  counter_.view_changed(real_clock().now());
  if (reporter_) {
    std::vector<std::string> routed;
    for (const auto& [name, service] : view_.services()) routed.push_back(name);
    reporter_->set_services(std::move(routed));
  }
  // The manager's plan with the changed services replaced: the only full copy that lives on is
  // the one the manager holds (at 10,000 servers a second copy is a megabyte).
  Plan next = haproxy_.desired();
  for (const auto& s : services) replan(s, next);
  haproxy_.submit(std::move(next));
  schedule_save();
}

void Agent::replan(const std::string& service, Plan& plan) {
  auto log = log::get("sherlock");
  auto at = std::lower_bound(
      plan.backends.begin(), plan.backends.end(), service,
      [](const PlannedBackend& be, const std::string& name) { return be.service < name; });
  if (at != plan.backends.end() && at->service == service) at = plan.backends.erase(at);
  auto old_problems = std::move(problems_[service]);
  problems_.erase(service);
  for (auto& [host, users] : host_services_) users.erase(service);

  auto it = view_.services().find(service);
  if (it == view_.services().end()) return;
  std::map<std::string, std::string> addresses;
  for (const auto& inst : it->second.instances) {
    auto host = url_host(inst.url);
    if (!host) continue;  // make_plan reports the URL
    host_services_[*host].insert(service);
    if (auto ip = resolver_.lookup(*host)) addresses[*host] = *ip;
  }
  std::map<std::string, ServiceView> one{{service, it->second}};
  Plan one_plan = make_plan(one, config_, addresses);
  // make_plan gives this service's backend or none, so `at` is still its sorted place.
  for (auto& be : one_plan.backends) plan.backends.insert(at, std::move(be));
  for (const auto& p : one_plan.problems)
    if (std::find(old_problems.begin(), old_problems.end(), p) == old_problems.end())
      log->warn("{}", p);
  if (!one_plan.problems.empty()) problems_[service] = std::move(one_plan.problems);
}

void Agent::schedule_save() {
  if (save_scheduled_) return;
  save_scheduled_ = true;
  asio::co_spawn(ex_, save_later(), asio::detached);
}

awaitable<void> Agent::save_later() {
  asio::steady_timer t(ex_);
  t.expires_after(kSaveDelay);
  auto op = t.async_wait(use_awaitable);
  co_await std::move(op);
  save_scheduled_ = false;
  // JSON and fsync off the io thread: at 10,000 instances they take tens of milliseconds, which
  // every change arriving meanwhile would wait. The copy is taken here, where the view lives.
  auto snapshot = std::make_shared<const model::Snapshot>(view_.to_snapshot());
  asio::post(saver_, [this, snapshot]() mutable {
    std::string error;
    try {
      store_.save(*snapshot);
    } catch (const std::exception& e) {
      error = e.what();
    }
    snapshot.reset();  // freed before saved() trims the heap, not after
    asio::post(ex_, [this, error] { saved(error); });
  });
}

void Agent::saved(const std::string& error) {
  // Snapshots read and saved come and go in large numbers of small blocks, which the allocator
  // keeps; once a second at most, hand the free pages back (at 10,000 instances: most of RSS).
  ::malloc_trim(0);
  auto log = log::get("sherlock");
  if (error.empty() && !save_error_.empty()) log->info("saving the view works again");
  if (!error.empty() && error != save_error_) log->error("cannot save the view: {}", error);
  save_error_ = error;
}

nlohmann::json Agent::status() const {
  using nlohmann::json;
  json j;
  j["directory"] = watcher_.status();
  j["haproxy"] = haproxy_.status();
  json services = json::object();
  for (const auto& be : haproxy_.applied().backends) {
    json s;
    s["mode"] = be.mode == PlannedBackend::Mode::tcp ? "tcp" : "http";
    if (be.mode == PlannedBackend::Mode::tcp) {
      s["listen"] = "127.0.0.1:" + std::to_string(be.tcp_port);
    } else {
      s["base_path"] = be.base_path.empty() ? "/" : be.base_path;
      // The traffic policy HAProxy applies ({} when none): the directory's, once checked.
      s["policy"] = model::to_request_json(be.policy);
    }
    json servers = json::array();
    for (const auto& srv : be.servers)
      servers.push_back({{"id", srv.name},
                         {"address", srv.address},
                         {"port", srv.port},
                         {"tls", srv.tls},
                         {"weight", srv.weight}});
    s["servers"] = servers;
    services[be.service] = s;
  }
  j["services"] = services;
  json problems = json::array();
  for (const auto& [svc, list] : problems_)
    for (const auto& p : list) problems.push_back(p);
  j["problems"] = problems;
  j["state_file"] = store_.path();
  j["state_save_error"] = save_error_.empty() ? json(nullptr) : json(save_error_);
  j["unresolved_hosts"] = resolver_.unresolved();
  if (!config_.access_log.empty())
    j["access_log"] = {
        {"to", config_.access_log},
        {"lines", access_log_ ? access_log_->counters().lines : 0},
        {"error", access_log_error_.empty() ? json(nullptr) : json(access_log_error_)}};
  if (config_.insight) {
    json insight{{"consumer", config_.consumer.empty() ? json(nullptr) : json(config_.consumer)},
                 {"counted", counter_.counted()},
                 {"error", log_socket_error_.empty() ? json(nullptr) : json(log_socket_error_)}};
    if (reporter_) {
      const auto& r = reporter_->status();
      insight["directory"] = r.directory;
      insight["registered"] = r.registered;
      insight["reports"] = r.reports;
      insight["report_error"] = r.last_error.empty() ? json(nullptr) : json(r.last_error);
    }
    j["insight"] = std::move(insight);
  }
  return j;
}

std::string Agent::metrics() const {
  const auto& c = haproxy_.counters();
  std::size_t servers = 0;
  for (const auto& be : haproxy_.applied().backends) servers += be.servers.size();
  std::size_t problems = 0;
  for (const auto& [svc, list] : problems_) problems += list.size();
  auto n = [](auto v) { return static_cast<double>(v); };
  metrics::Writer w;
  w.gauge("dstack_sherlock_directory_connected", "1 while a directory is being followed.",
          watcher_.connected() ? 1 : 0)
      .gauge("dstack_sherlock_directory_revision", "The directory revision of the view.",
             n(view_.revision()))
      .counter("dstack_sherlock_directory_events_total", "Watch events received.",
               n(watcher_.events()))
      .counter("dstack_sherlock_directory_snapshots_total", "Snapshots read.",
               n(watcher_.snapshots()))
      .gauge("dstack_sherlock_haproxy_serving", "1 while HAProxy serves a config from sherlock.",
             haproxy_.serving() ? 1 : 0)
      .counter("dstack_sherlock_reloads_total", "HAProxy reloads that succeeded.", n(c.reloads))
      .counter("dstack_sherlock_reload_failures_total", "Reloads HAProxy refused.",
               n(c.reload_failures))
      .counter("dstack_sherlock_failed_validations_total",
               "Configs haproxy -c refused (never loaded).", n(c.failed_validations))
      .counter("dstack_sherlock_runtime_updates_total", "Runtime-API commands HAProxy took.",
               n(c.runtime_updates))
      .counter("dstack_sherlock_runtime_failures_total", "Runtime-API commands HAProxy refused.",
               n(c.runtime_failures))
      .counter("dstack_sherlock_haproxy_starts_total", "Times sherlock started HAProxy.",
               n(c.haproxy_starts))
      .counter("dstack_sherlock_haproxy_exits_total", "HAProxy exits sherlock did not ask for.",
               n(c.haproxy_exits))
      .gauge("dstack_sherlock_services", "Services HAProxy serves.",
             n(haproxy_.applied().backends.size()))
      .gauge("dstack_sherlock_servers", "Servers HAProxy has.", n(servers))
      .gauge("dstack_sherlock_problems", "Instances or routes left out (see /v1/status).",
             n(problems));
  if (log_socket_)
    w.counter("dstack_sherlock_request_log_connections_total",
              "Connections HAProxy made to sherlock's request log socket.",
              n(log_socket_->connections()))
        .counter("dstack_sherlock_request_log_unread_total",
                 "Lines from HAProxy that were not request lines (HAProxy's own notices).",
                 n(not_requests_));
  if (access_log_) {
    const auto& a = access_log_->counters();
    w.counter("dstack_sherlock_access_log_lines_total", "Lines written to the access log.",
              n(a.lines))
        .counter("dstack_sherlock_access_log_write_errors_total",
                 "Access log writes that failed (a full disk).", n(a.write_errors));
  }
  if (config_.insight) counter_.write_metrics(w);
  if (reporter_) {
    const auto& r = reporter_->status();
    w.gauge("dstack_sherlock_consumer_registered",
            "1 while this host is registered as a consumer in the directory.", r.registered ? 1 : 0)
        .counter("dstack_sherlock_traffic_reports_total", "Traffic reports the directory took.",
                 n(r.reports))
        .counter("dstack_sherlock_traffic_report_failures_total",
                 "Requests to the directory for the consumer that failed.", n(r.failures));
  }
  return std::move(w).text();
}

}  // namespace dstack::sherlock
