// SPDX-License-Identifier: Apache-2.0
#include "sherlock/daemon.hpp"

#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "common/core/exit_codes.hpp"
#include "common/daemon/daemon.hpp"
#include "common/log/log.hpp"
#include "common/model/url.hpp"
#include "common/net/http_server.hpp"
#include "common/registry/directory_client.hpp"
#include "sherlock/agent.hpp"
#include "sherlock/handover.hpp"
#include "sherlock/haproxy_files.hpp"
#include "sherlock/local_api.hpp"
#include "sherlock/proxy_listener.hpp"
#include "sherlock/state_store.hpp"

namespace dstack::sherlock {
namespace {

std::vector<std::unique_ptr<registry::Registry>> registries(asio::io_context& io,
                                                            const SherlockConfig& cfg) {
  const auto settings =
      registry::client_settings(cfg.token, cfg.directory_ca_file, cfg.tls_cert, cfg.tls_key);
  std::vector<std::unique_ptr<registry::Registry>> out;
  for (const auto& address : cfg.directories)
    out.push_back(registry::make_registry(io.get_executor(), address, settings));
  return out;
}

// The first directory's snapshot, else the saved one; where it came from in `source`.
awaitable<std::optional<model::Snapshot>> current_snapshot(
    std::vector<std::unique_ptr<registry::Registry>>& dirs, const SherlockConfig& cfg,
    std::string& source) {
  for (auto& d : dirs) {
    auto op = d->snapshot();
    auto snap = co_await std::move(op);
    if (snap) {
      source = d->describe() + " revision " + std::to_string(snap->revision);
      co_return *snap;
    }
    std::cerr << "sherlock: " << d->describe() << ": " << snap.error().message << "\n";
  }
  StateStore store(cfg.state_dir);
  auto saved = store.load();
  if (saved) source = store.path() + " (saved) revision " + std::to_string(saved->revision);
  co_return saved;
}

awaitable<void> stop_then_exit(Agent& agent, net::HttpServer& server, asio::io_context& io) {
  auto op = agent.stop();
  co_await std::move(op);
  log::get("sherlock")->info("stopped");
  server.stop();
  io.stop();
}

// What a SIGHUP starts (handover.hpp). A SIGTERM during the check cancels it; one once it is
// committed ends it in an orderly stop, here or in the new image.
struct Handover {
  bool checking = false;
  bool committed = false;
  bool then_terminate = false;
};

// Up to the commit: nullopt when the handover may go ahead, else why not.
awaitable<std::optional<std::string>> check_handover(Agent& agent, SelfCommand self) {
  try {
    auto check = check_successor(std::move(self));
    auto refused = co_await std::move(check);
    if (!refused) refused = agent.handover_refusal();
    co_return refused;
  } catch (const std::exception& e) {
    co_return std::string(e.what());
  }
}

awaitable<void> hand_over(Agent& agent, SelfCommand self, Handover& h, bool& stopping,
                          net::HttpServer& server, asio::io_context& io,
                          const ProxyListener& listener) {
  auto log = log::get("sherlock");
  log->info("SIGHUP: checking {} and its config, then handing HAProxy over to it", self.path);
  auto check = check_handover(agent, self);
  auto refused = co_await std::move(check);
  h.checking = false;
  if (stopping) co_return;
  if (refused) {
    log->error("not handing over, carrying on as before: {}", *refused);
    co_return;
  }
  h.committed = true;
  try {
    // Later signals are noted here. One taken just before is still in the reactor's signal
    // pipe: a pass through the reactor hands it to on_terminate.
    hold_stop_signals();
    asio::steady_timer drain(io);
    drain.expires_after(std::chrono::milliseconds(5));
    auto drained = drain.async_wait(use_awaitable);
    co_await std::move(drained);
    daemon::notify_reloading();
    auto prepare = agent.prepare_handover();
    co_await std::move(prepare);
  } catch (const std::exception& e) {
    log->critical("handover failed: {}; exiting, HAProxy serves on for the next sherlock",
                  e.what());
    log->flush();
    std::_Exit(exit_code::failure);
  }
  if (h.then_terminate || stop_signal_held()) {
    // Asked to stop meanwhile: this image still holds HAProxy, so it stops it itself.
    log->info("stopping instead of handing over: HAProxy finishes its requests, then exits");
    stopping = true;
    daemon::notify_stopping();
    auto stop = stop_then_exit(agent, server, io);
    co_await std::move(stop);
    co_return;
  }
  log->info("handing over: exec {}", self.path);
  log->flush();
  const std::string why = exec_self(self, h.then_terminate, listener);
  log->critical("{}; exiting, HAProxy serves on for the next sherlock", why);
  log->flush();
  std::_Exit(exit_code::failure);
}

// Whether the access log could be opened for appending, and its socket bound, as this user:
// checked without creating anything (a check run as root must not leave a file sherlock's user
// cannot write).
std::optional<std::string> access_log_problem(const SherlockConfig& config) {
  if (config.access_log.empty()) return std::nullopt;
  const std::string socket = runtime_paths(config).log_socket;
  if (socket.size() >= sizeof(sockaddr_un{}.sun_path))
    return "its socket " + socket +
           " is longer than a unix socket path may be; shorten haproxy.run_dir";
  if (config.access_log == "stdout") return std::nullopt;
  const std::filesystem::path file(config.access_log);
  const bool exists = std::filesystem::exists(file);
  const std::string probe = exists ? file.string() : file.parent_path().string();
  if (::access(probe.c_str(), W_OK) != 0)
    return "\"" + config.access_log + "\": cannot write " + (exists ? "it" : "in " + probe) + ": " +
           std::strerror(errno);
  return std::nullopt;
}

}  // namespace

int run_daemon(const SherlockConfig& config, const SelfCommand& self) {
  auto log = log::get("sherlock");
  reap_exited_children();  // after a handover: any child that ended before this image ran
  asio::io_context io(1);
  Agent agent(io.get_executor(), config, registries(io, config), registries(io, config));
  // HAProxy as sherlock's child is handed the proxy's socket; one it does not start (manage:
  // external) binds its own.
  std::vector<std::string> notes;
  ProxyListener listener = ProxyListener::inherited(config.proxy, notes);
  for (const auto& note : notes) log->warn("{}", note);
  if (config.haproxy.manage == HaproxySettings::Manage::child) agent.use_listener(listener);

  net::ServerLimits limits;
  limits.max_connections = 64;  // loopback tools, not traffic
  limits.max_body = 4 << 10;
  net::HttpServer server(io, limits,
                         [&](const net::HttpRequest& r) { return handle_local_api(agent, r); });
  server.listen(config.listen.host, config.listen.port);
  log->info("local API on http://{}", config.listen.to_string());

  agent.start();
  bool stopping = false;
  Handover handover;
  daemon::Signals signals(
      io,
      [&] {
        if (handover.committed) {
          handover.then_terminate = true;
          return;
        }
        if (stopping) return;
        stopping = true;
        log->info("stopping: HAProxy finishes its requests, then exits");
        daemon::notify_stopping();
        asio::co_spawn(io, stop_then_exit(agent, server, io), asio::detached);
      },
      [&] {
        if (stopping || handover.checking || handover.committed) return;
        handover.checking = true;
        asio::co_spawn(io, hand_over(agent, self, handover, stopping, server, io, listener),
                       asio::detached);
      },
      [&] { agent.reopen_logs(); });
  daemon::start_watchdog(io);
  daemon::notify_ready();
  io.run();
  return exit_code::ok;
}

int render_now(const SherlockConfig& config) {
  asio::io_context io(1);
  auto dirs = registries(io, config);
  std::string source;
  std::optional<model::Snapshot> snapshot;
  std::exception_ptr failure;
  asio::co_spawn(io, current_snapshot(dirs, config, source),
                 [&](std::exception_ptr e, std::optional<model::Snapshot> s) {
                   failure = e;
                   snapshot = std::move(s);
                 });
  io.run();
  if (failure) std::rethrow_exception(failure);
  if (!snapshot) {
    std::cerr << "sherlock: no directory answered and no view is saved in " << config.state_dir
              << "\n";
    return exit_code::unavailable;
  }
  DirectoryView view;
  view.load(*snapshot);
  // Names resolved here, blocking: this is a one-shot command.
  std::map<std::string, std::string> addresses;
  net::tcp::resolver resolver(io);
  for (const auto& [svc, sv] : view.services()) {
    for (const auto& inst : sv.instances) {
      auto parsed = model::parse_instance_url(inst.url);
      auto* url = std::get_if<model::InstanceUrl>(&parsed);
      if (url == nullptr || addresses.count(url->host)) continue;
      error_code ec;
      auto results = resolver.resolve(url->host, "", ec);
      if (!ec && !results.empty())
        addresses[url->host] = results.begin()->endpoint().address().to_string();
    }
  }
  Plan plan = make_plan(view.services(), config, addresses);
  auto rendered = render_haproxy_config(plan, config, runtime_paths(config));
  std::cout << "# from " << source << "\n" << rendered.haproxy_cfg;
  auto comment = [](const std::string& name, const std::string& text) {
    std::cout << "\n# " << name << ":\n";
    std::size_t at = 0;
    while (at < text.size()) {
      auto nl = text.find('\n', at);
      std::cout << "#   " << text.substr(at, nl - at) << "\n";
      at = nl == std::string::npos ? text.size() : nl + 1;
    }
  };
  comment(runtime_paths(config).path_map, rendered.path_map);
  comment(runtime_paths(config).host_map, rendered.host_map);
  for (const auto& p : plan.problems) std::cerr << "sherlock: left out: " << p << "\n";
  return exit_code::ok;
}

int check_with_haproxy(const SherlockConfig& config) {
  if (auto why = access_log_problem(config)) {
    std::cerr << "sherlock: access_log: " << *why << "\n";
    return exit_code::config;
  }
  if (::access(config.haproxy.binary.c_str(), X_OK) != 0) {
    std::cout << config.haproxy.binary << ": not found; HAProxy settings not checked by HAProxy\n";
    return exit_code::ok;
  }
  // In a scratch run_dir: the real one may not exist yet or may be in use.
  char scratch[] = "/tmp/sherlock-check-XXXXXX";
  if (::mkdtemp(scratch) == nullptr) throw std::runtime_error("cannot make a scratch directory");
  SherlockConfig copy = config;
  copy.haproxy.run_dir = scratch;
  asio::io_context io(1);
  HaproxyFiles files(copy);
  std::optional<std::string> refused;
  const Plan empty;  // outlives the coroutine, which holds a reference to it
  asio::co_spawn(io, files.validate_only(empty),
                 [&](std::exception_ptr, std::optional<std::string> r) { refused = std::move(r); });
  io.run();
  std::filesystem::remove_all(scratch);
  if (refused) {
    std::cerr << "sherlock: haproxy settings: " << *refused << "\n";
    return exit_code::config;
  }
  std::cout << "haproxy -c: the config for these settings is valid\n";
  return exit_code::ok;
}

}  // namespace dstack::sherlock
