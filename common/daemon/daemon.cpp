// SPDX-License-Identifier: Apache-2.0
#include "common/daemon/daemon.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "common/config/reader.hpp"
#include "common/core/exit_codes.hpp"
#include "common/daemon/sd_notify.hpp"

namespace dstack::daemon {

void notify_ready() {
  sd_notify_send("READY=1");
}
void notify_reloading() {
  sd_notify_send("RELOADING=1");
}
void notify_stopping() {
  sd_notify_send("STOPPING=1");
}
void notify_status(const std::string& status) {
  sd_notify_send("STATUS=" + status);
}

namespace {
awaitable<void> watchdog_loop(std::chrono::microseconds interval) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    sd_notify_send("WATCHDOG=1");
    timer.expires_after(interval / 2);
    auto wait = timer.async_wait(use_awaitable);
    co_await std::move(wait);
  }
}
}  // namespace

void start_watchdog(asio::io_context& io) {
  if (auto interval = sd_watchdog_interval())
    asio::co_spawn(io, watchdog_loop(*interval), asio::detached);
}

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  return set;
}

Signals::Signals(asio::io_context& io, std::function<void()> on_terminate,
                 std::function<void()> on_reload, std::function<void()> on_reopen)
    : set_(io, SIGTERM, SIGINT, SIGHUP),
      on_terminate_(std::move(on_terminate)),
      on_reload_(std::move(on_reload)),
      on_reopen_(std::move(on_reopen)) {
  set_.add(SIGUSR1);
  // A process that execs itself (sherlock's handover) blocks these until its new image listens;
  // any that arrived meanwhile are delivered now, to the handlers.
  const sigset_t handled = handled_signals();
  ::pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);
  wait();
}

void Signals::wait() {
  set_.async_wait([this](const error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      if (on_reload_) on_reload_();
    } else if (signo == SIGUSR1) {
      if (on_reopen_) on_reopen_();
    } else if (terminating_) {
      std::_Exit(0);  // the operator insists
    } else {
      terminating_ = true;
      if (on_terminate_) on_terminate_();
    }
    wait();
  });
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": " << e.what() << " (see --help)\n";
    return exit_code::usage;
  }
}

void report_config_file(const std::string& path) {
  const bool found = std::filesystem::exists(path);
  std::cout << path << (found ? ": ok\n" : ": not found, defaults are ok\n");
}

int run_main(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << '\n';
    return exit_code::config;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << '\n';
    return exit_code::failure;
  }
}

}  // namespace dstack::daemon
