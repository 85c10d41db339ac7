// SPDX-License-Identifier: Apache-2.0
#include "watson/daemon.hpp"

#include <unistd.h>

#include <memory>
#include <set>
#include <system_error>
#include <vector>

#include "common/daemon/daemon.hpp"
#include "common/log/log.hpp"
#include "common/net/http_server.hpp"
#include "common/registry/directory_client.hpp"
#include "watson/agent.hpp"
#include "watson/dir_watcher.hpp"
#include "watson/local_api.hpp"

namespace dstack::watson {

namespace {

// How long a stopping watson waits for directories to confirm deregistration after the drain.
constexpr Duration kDeregisterDeadline = std::chrono::seconds(10);

std::string lease_owner() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "watson";
  return std::string("watson@") + host;
}

std::vector<ServiceDefinition> values(const std::map<std::string, ServiceDefinition>& by_file) {
  std::vector<ServiceDefinition> out;
  for (const auto& [file, def] : by_file) out.push_back(def);
  return out;
}

// services_dir as last read, re-read on demand; every problem is logged once per read.
class ServiceFiles {
 public:
  ServiceFiles(std::string dir, Agent& agent) : dir_(std::move(dir)), agent_(agent) {}

  void reload() {
    auto log = log::get("watson");
    ServicesDir next = load_services_dir(dir_, current_);
    // Each problem is logged when it appears, not again on every later read.
    std::set<std::string> seen(next.problems.begin(), next.problems.end());
    for (const auto& p : next.problems)
      if (logged_.count(p) == 0) log->error("{}", p);
    for (const auto& f : next.kept_previous)
      if (kept_.count(f) == 0) log->warn("{}: keeping its previous definition", f);
    logged_ = std::move(seen);
    kept_ = std::set<std::string>(next.kept_previous.begin(), next.kept_previous.end());
    if (!loaded_ || next.definitions != current_)
      log->info("{} service file(s) in force from {}", next.definitions.size(), dir_);
    loaded_ = true;
    current_ = std::move(next.definitions);
    agent_.set_problems(std::move(next.problems));
    agent_.apply(values(current_));
  }

 private:
  std::string dir_;
  Agent& agent_;
  std::map<std::string, ServiceDefinition> current_;
  std::set<std::string> logged_;  // problems of the last read
  std::set<std::string> kept_;    // files kept at their previous definition at the last read
  bool loaded_ = false;
};

awaitable<void> drain_then_stop(Agent& agent, net::HttpServer* server, asio::io_context& io) {
  auto shutdown = agent.shutdown(kDeregisterDeadline);
  co_await std::move(shutdown);
  log::get("watson")->info("stopped");
  if (server) server->stop();
  io.stop();
}

}  // namespace

int run_daemon(const WatsonConfig& config, const RunOptions& options) {
  auto log = log::get("watson");
  asio::io_context io(1);

  const auto settings = registry::client_settings(config.token, config.directory_ca_file,
                                                  config.tls_cert, config.tls_key);
  std::vector<std::unique_ptr<Registrar>> registrars;
  for (const auto& address : config.directories) {
    auto reg = registry::make_registry(io.get_executor(), address, settings);
    registrars.push_back(std::make_unique<Registrar>(io.get_executor(), std::move(reg),
                                                     config.lease_ttl, lease_owner()));
  }
  Agent agent(io.get_executor(), std::move(registrars));

  LocalApi api(agent);
  std::unique_ptr<net::HttpServer> server;
  net::ServerLimits limits;
  limits.max_connections = 64;  // loopback tools, not traffic
  limits.max_body = 4 << 10;
  try {
    server = std::make_unique<net::HttpServer>(
        io, limits, [&](const net::HttpRequest& r) { return api.handle(r); });
    server->listen(config.listen.host, config.listen.port);
    log->info("local API on http://{}", config.listen.to_string());
  } catch (const std::system_error& e) {
    if (options.listen_required) throw;
    log->warn("no local API: {} (another watson has it?); --listen picks another address",
              e.what());
    server.reset();
  }

  bool stopping = false;
  std::unique_ptr<ServiceFiles> files;
  std::unique_ptr<DirWatcher> watcher;
  if (options.quick) {
    agent.apply({*options.quick});
  } else {
    files = std::make_unique<ServiceFiles>(config.services_dir, agent);
    files->reload();
    watcher = std::make_unique<DirWatcher>(io, config.services_dir, [&] {
      if (!stopping) files->reload();
    });
  }
  agent.start();

  daemon::Signals signals(
      io,
      [&] {
        stopping = true;
        log->info("stopping: draining every instance");
        daemon::notify_stopping();
        asio::co_spawn(io, drain_then_stop(agent, server.get(), io), asio::detached);
      },
      [&] {
        if (stopping) return;
        if (!files) {
          log->info("SIGHUP: quick mode has no service files to reload");
          return;
        }
        log->info("SIGHUP: reloading {}", config.services_dir);
        daemon::notify_reloading();
        files->reload();
        daemon::notify_ready();
      });
  daemon::start_watchdog(io);
  daemon::notify_ready();
  io.run();
  return 0;
}

}  // namespace dstack::watson
