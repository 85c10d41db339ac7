// SPDX-License-Identifier: Apache-2.0
#pragma once
// What every daemon shares: systemd readiness and watchdog, signals that set flags for an orderly
// shutdown or reload, descriptor limits, and the exit-78 convention for config errors.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "common/net/asio.hpp"

namespace dstack::daemon {

// sd_notify wrappers; no-ops when not run under systemd.
void notify_ready();
void notify_reloading();
void notify_stopping();
void notify_status(const std::string& status);

// Pings the systemd watchdog at half its interval for as long as the io_context runs, when
// systemd asked for a watchdog.
void start_watchdog(asio::io_context& io);

// Raises the soft limit on open descriptors to the hard limit: a directory serves thousands.
void raise_fd_limit();

// SIGTERM, SIGINT, SIGHUP and SIGUSR1: what Signals handles.
sigset_t handled_signals();

// SIGTERM/SIGINT call on_terminate (a second one exits at once), SIGHUP calls on_reload, SIGUSR1
// on_reopen (log files, for logrotate; ignored without one, rather than the default of dying).
// The handlers run on the io_context thread, never inside a signal handler.
class Signals {
 public:
  Signals(asio::io_context& io, std::function<void()> on_terminate,
          std::function<void()> on_reload = {}, std::function<void()> on_reopen = {});

 private:
  void wait();
  asio::signal_set set_;
  std::function<void()> on_terminate_;
  std::function<void()> on_reload_;
  std::function<void()> on_reopen_;
  bool terminating_ = false;
};

// Parses the command line. nullopt: go on; otherwise the exit code (0 after --help, 64 after a
// usage error, which is printed with a hint to --help).
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

// --check-config's first line, the same for every daemon: "PATH: ok", or that the file is
// missing and the defaults are valid.
void report_config_file(const std::string& path);

// Runs `body`; a config::ConfigError is printed line by line to stderr and becomes exit 78,
// any other escaped exception is printed and becomes exit 70.
int run_main(const char* program, const std::function<int()>& body);

}  // namespace dstack::daemon
