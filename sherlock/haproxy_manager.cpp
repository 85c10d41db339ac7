// SPDX-License-Identifier: Apache-2.0
#include "sherlock/haproxy_manager.hpp"

#include <signal.h>

#include <fstream>
#include <sstream>

#include "common/core/exception_text.hpp"
#include "common/log/log.hpp"
#include "common/process/run_command.hpp"
#include "sherlock/haproxy_cli.hpp"
#include "sherlock/haproxy_master.hpp"

namespace dstack::sherlock {
namespace {

using steady = std::chrono::steady_clock;
using nlohmann::json;

constexpr Duration kStartTimeout = std::chrono::seconds(10);
constexpr Duration kReloadTimeout = std::chrono::seconds(15);
constexpr Duration kCliTimeout = std::chrono::seconds(5);
// How long a stop waits for an operation in flight (a start, a reload) before it goes on.
constexpr Duration kFinishTimeout = std::chrono::seconds(5);
constexpr Duration kCommandTimeout = std::chrono::seconds(60);
constexpr Duration kKillAfterTerm = std::chrono::milliseconds(100);
constexpr std::size_t kBatch = 1000;  // commands per CLI connection

std::vector<std::string> split_words(const std::string& command) {
  std::istringstream in(command);
  return {std::istream_iterator<std::string>(in), {}};
}

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

// The pid in run_dir's pid file, when it names a live HAProxy.
pid_t running_haproxy(const std::string& pid_file) {
  const std::string text = read_small_file(pid_file);
  char* end = nullptr;
  long pid = std::strtol(text.c_str(), &end, 10);
  if (pid <= 1 || end == text.c_str()) return 0;
  if (read_small_file("/proc/" + std::to_string(pid) + "/comm") != "haproxy") return 0;
  return static_cast<pid_t>(pid);
}

}  // namespace

HaproxyManager::HaproxyManager(asio::any_io_executor ex, const SherlockConfig& config,
                               const Clock& clock)
    : ex_(ex),
      config_(config),
      files_(config),
      clock_(clock),
      decider_(config.haproxy.min_reload_interval,
               Backoff(std::chrono::milliseconds(500), std::chrono::seconds(30))),
      wake_(ex),
      backoff_(ex),
      exited_(ex),
      loop_ended_(ex) {}

HaproxyManager::~HaproxyManager() = default;

void HaproxyManager::start() {
  files_.prepare_run_dir();
  loop_running_ = true;
  asio::co_spawn(ex_, run(), [this](std::exception_ptr e) {
    loop_running_ = false;
    loop_ended_.cancel();
    if (e) log::get("haproxy")->critical("the HAProxy manager stopped: {}", exception_text(e));
  });
}

void HaproxyManager::submit(Plan desired) {
  desired_ = std::make_shared<const Plan>(std::move(desired));
  decider_.plan_submitted();
  wake();
}

void HaproxyManager::wake() {
  dirty_ = true;
  wake_.cancel();
}

awaitable<void> HaproxyManager::sleep_until(steady::time_point t) {
  if (dirty_ || stopping_) co_return;
  wake_.expires_at(t);
  error_code ec;
  auto op = wake_.async_wait(asio::redirect_error(use_awaitable, ec));
  co_await std::move(op);
}

awaitable<void> HaproxyManager::run() {
  using Kind = HaproxyStep::Kind;
  for (;;) {
    dirty_ = false;
    const std::uint64_t gen = decider_.generation();
    const PlanPtr want = desired_;
    const HaproxyStep step = decider_.next(clock_.now(), needs_reload(*applied_, *want));
    switch (step.kind) {
      case Kind::exit:
        co_return;
      case Kind::start: {
        auto op = start_haproxy(want);
        const auto outcome = co_await std::move(op);
        decider_.started(gen, outcome, clock_.now());
        // It may have died while being taken over: then start again.
        if (decider_.running() && !process_ &&
            config_.haproxy.manage == HaproxySettings::Manage::child)
          decider_.haproxy_exited();
        break;
      }
      case Kind::wait_backoff: {
        backoff_.expires_at(step.until);
        error_code ec;
        auto w = backoff_.async_wait(asio::redirect_error(use_awaitable, ec));
        co_await std::move(w);
        break;
      }
      case Kind::apply_runtime_part:
      case Kind::apply_runtime: {
        const bool part = step.kind == Kind::apply_runtime_part;
        auto op = apply_runtime(part ? std::make_shared<const Plan>(runtime_part(*applied_, *want))
                                     : want);
        co_await std::move(op);
        decider_.runtime_applied(gen, part, !lingering_.empty(), clock_.now());
        break;
      }
      case Kind::reload: {
        auto op = reload(want, step.reason);
        const auto outcome = co_await std::move(op);
        decider_.reloaded(gen, outcome, clock_.now());
        break;
      }
      case Kind::retry_deletes: {
        auto op = retry_deletes();
        co_await std::move(op);
        decider_.deletes_retried(!lingering_.empty(), clock_.now());
        break;
      }
      case Kind::sleep: {
        auto op = sleep_until(step.until);
        co_await std::move(op);
        break;
      }
    }
  }
}

awaitable<void> HaproxyManager::supervise(process::ChildProcess* child) {
  int code = -1;
  try {
    auto op = child->wait();
    code = co_await std::move(op);
  } catch (const std::exception&) {
    co_return;  // sherlock is going away
  }
  if (process_.get() != child) co_return;
  process_.reset();
  decider_.haproxy_exited();
  exited_.cancel();
  if (stopping_) co_return;
  ++counters_.haproxy_exits;
  last_error_ = "HAProxy exited" + (code >= 0 ? " with status " + std::to_string(code) : "");
  log::get("haproxy")->error("{}; starting it again", last_error_);
  wake();
}

awaitable<std::unique_ptr<process::ChildProcess>> HaproxyManager::find_left_running() {
  pid_t pid = running_haproxy(files_.pid_file());
  if (pid == 0) co_return nullptr;
  auto op = show_proc(files_.master_socket(), kCliTimeout);
  auto procs = co_await std::move(op);
  if (!procs || procs->master != pid) co_return nullptr;
  auto handle = process::ChildProcess::adopt(ex_, pid);
  if (!handle) co_return nullptr;
  co_return std::move(*handle);
}

awaitable<std::optional<HaproxyDecider::StartOutcome>> HaproxyManager::adopt_running(PlanPtr want) {
  auto find = find_left_running();
  auto handle = co_await std::move(find);
  if (!handle) co_return std::nullopt;
  log::get("haproxy")->info("taking over HAProxy (pid {}) left running by an earlier sherlock",
                            handle->pid());
  // It goes on with the proxy socket it has: under the same number when this sherlock was
  // handed it too (systemd, a handover), else as its config says.
  if (listener_ && listener_->owned())
    files_.use_listener(listener_->fd());
  else if (!files_.use_loaded_bind())
    files_.use_listener(-1);
  process_ = std::move(handle);
  asio::co_spawn(ex_, supervise(process_.get()), asio::detached);
  lingering_.clear();
  auto r = reload(want, "taking over a running HAProxy");
  const auto reloaded = co_await std::move(r);
  co_return reloaded == HaproxyDecider::ReloadOutcome::ok
      ? HaproxyDecider::StartOutcome::up
      : HaproxyDecider::StartOutcome::up_but_refused;
}

awaitable<HaproxyDecider::StartOutcome> HaproxyManager::start_haproxy(PlanPtr want) {
  using Outcome = HaproxyDecider::StartOutcome;
  auto log = log::get("haproxy");
  const auto began = clock_.now();
  if (config_.haproxy.manage == HaproxySettings::Manage::child) {
    auto adopt = adopt_running(want);
    if (auto taken = co_await std::move(adopt)) co_return *taken;
  }
  if (config_.haproxy.manage == HaproxySettings::Manage::child && listener_) {
    if (auto why = listener_->bind(config_.proxy))
      log->warn("cannot hold the proxy's socket ({}): HAProxy binds it itself", *why);
    files_.use_listener(listener_->owned() ? listener_->fd() : -1);
  }
  auto install = files_.install(*want);
  auto refused = co_await std::move(install);
  if (refused) {
    ++counters_.failed_validations;
    last_error_ = *refused;
    log->error("cannot start HAProxy: {}", *refused);
    record(false, "start", *refused, began);
    co_return Outcome::config_refused;
  }

  if (config_.haproxy.manage == HaproxySettings::Manage::external) {
    auto run = process::run_command(split_words(config_.haproxy.reload_command),
                                    {.timeout = kCommandTimeout});
    process::CommandResult r = co_await std::move(run);
    if (r.code != 0) {
      last_error_ = "reload_command failed (exit " + std::to_string(r.code) + "): " + r.output;
      log->error("{}", last_error_);
      record(false, "first config", last_error_, began);
      co_return Outcome::failed;
    }
  } else {
    std::vector<std::string> argv = {config_.haproxy.binary,
                                     "-W",
                                     "-S",
                                     files_.master_socket() + ",mode,600",
                                     "-f",
                                     files_.config_path(),
                                     "-p",
                                     files_.pid_file()};
    auto spawned = process::ChildProcess::spawn(ex_, argv, files_.handed_fds());
    if (!spawned) {
      last_error_ = spawned.error().message;
      log->error("cannot start HAProxy: {}", last_error_);
      co_return Outcome::failed;
    }
    process_ = std::move(*spawned);
    ++counters_.haproxy_starts;
    process::ChildProcess* mine = process_.get();
    asio::co_spawn(ex_, supervise(mine), asio::detached);
    // Up when its master reports a worker; gone if supervise saw it exit first.
    const auto deadline = clock_.now() + kStartTimeout;
    bool up = false;
    while (!up && !stopping_ && process_.get() == mine && clock_.now() < deadline) {
      auto op = show_proc(files_.master_socket(), kCliTimeout);
      auto procs = co_await std::move(op);
      up = procs && !procs->workers.empty();
      if (!up) {
        asio::steady_timer t(ex_);
        t.expires_after(std::chrono::milliseconds(10));
        auto w = t.async_wait(use_awaitable);
        co_await std::move(w);
      }
    }
    if (!up && stopping_) co_return Outcome::failed;  // stop() deals with it
    if (!up) {
      last_error_ = "HAProxy did not start (its log above says why)";
      log->error("{}", last_error_);
      if (process_.get() == mine) process_->signal(SIGKILL);
      record(false, "start", last_error_, began);
      co_return Outcome::failed;
    }
    log->info("HAProxy started (pid {}), serving {} service(s) on {}", mine->pid(),
              want->backends.size(), config_.proxy.to_string());
  }
  files_.mark_loaded();
  applied_ = want;
  lingering_.clear();
  record(true, "start", "", began);
  if (on_applied_) on_applied_();
  co_return Outcome::up;
}

awaitable<void> HaproxyManager::save_server_state() {
  auto op = cli_command(files_.paths().admin_socket, "show servers state", kCliTimeout);
  auto state = co_await std::move(op);
  if (!state || state->rfind("1\n", 0) != 0) {
    log::get("haproxy")->warn("could not save server state before the reload: {}",
                              state ? "unexpected answer" : state.error().message);
    co_return;
  }
  try {
    write_file_atomically(files_.paths().state_file, *state);
  } catch (const std::exception& e) {
    log::get("haproxy")->warn("could not save server state before the reload: {}", e.what());
  }
}

awaitable<HaproxyDecider::ReloadOutcome> HaproxyManager::reload(PlanPtr want, std::string reason) {
  using Outcome = HaproxyDecider::ReloadOutcome;
  auto log = log::get("haproxy");
  const auto began = clock_.now();
  auto install = files_.install(*want);
  auto refused = co_await std::move(install);
  if (refused) {
    ++counters_.failed_validations;
    last_error_ = *refused;
    log->error("not reloading ({}): {}; the running config stays", reason, *refused);
    record(false, reason, *refused, began);
    co_return Outcome::config_refused;
  }
  auto save = save_server_state();
  co_await std::move(save);

  Status st = Ok{};
  if (config_.haproxy.manage == HaproxySettings::Manage::external) {
    auto run = process::run_command(split_words(config_.haproxy.reload_command),
                                    {.timeout = kCommandTimeout});
    process::CommandResult r = co_await std::move(run);
    if (r.code != 0)
      st = Error{ErrorKind::refused, "reload_command",
                 "reload_command failed (exit " + std::to_string(r.code) + "): " + r.output};
  } else {
    auto op = reload_master(files_.master_socket(), kReloadTimeout);
    st = co_await std::move(op);
  }
  if (!st) {
    ++counters_.reload_failures;
    last_error_ = st.error().message;
    try {
      files_.restore_loaded();
    } catch (const std::exception& e) {
      log->error("cannot put the previous config back: {}", e.what());
    }
    log->error("reload failed ({}): {}", reason, last_error_);
    record(false, reason, last_error_, began);
    co_return Outcome::failed;
  }
  ++counters_.reloads;
  files_.mark_loaded();
  applied_ = want;
  lingering_.clear();
  record(true, reason, "", began);
  log->info("HAProxy reloaded ({}): {} service(s), in {} ms", reason, want->backends.size(),
            std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - began).count());
  if (on_applied_) on_applied_();
  co_return Outcome::ok;
}

awaitable<void> HaproxyManager::apply_runtime(PlanPtr want) {
  auto log = log::get("haproxy");
  RuntimeDiff diff = runtime_diff(*applied_, lingering_, *want, config_, files_.paths());
  if (diff.needs_reload) {
    decider_.reload_needed("a server's TLS or HTTP/2 settings changed");
    co_return;
  }
  for (std::size_t from = 0; from < diff.commands.size(); from += kBatch) {
    const std::size_t to = std::min(diff.commands.size(), from + kBatch);
    std::vector<std::string> lines;
    for (std::size_t i = from; i < to; ++i) lines.push_back(diff.commands[i].line);
    auto op = cli_batch(files_.paths().admin_socket, lines, kCliTimeout);
    auto answers = co_await std::move(op);
    if (!answers) {
      ++counters_.runtime_failures;
      log->warn("runtime API: {}; a reload will apply the changes", answers.error().message);
      decider_.runtime_refused("the runtime API failed");
      break;
    }
    for (std::size_t i = from; i < to; ++i) {
      const RuntimeCommand& cmd = diff.commands[i];
      const std::string& answer = (*answers)[i - from];
      if (cli_success(answer) || (cmd.is_delete && answer == "No such server.")) {
        ++counters_.runtime_updates;
        if (cmd.is_delete) lingering_.erase(cmd.server);
      } else if (cmd.is_delete) {
        // Connections still attached: the server stays in maintenance (no new traffic).
        lingering_[cmd.server] = diff.deleting[cmd.server];
      } else {
        ++counters_.runtime_failures;
        log->warn("HAProxy refused `{}`: {}; a reload will apply the change", cmd.line, answer);
        decider_.runtime_refused("a runtime command was refused");
      }
    }
  }
  for (const auto& r : diff.revived) lingering_.erase(r);
  applied_ = want;
  if (!diff.commands.empty() && on_applied_) on_applied_();
}

awaitable<void> HaproxyManager::retry_deletes() {
  std::vector<ServerRef> refs;
  std::vector<std::string> lines;
  for (const auto& [ref, server] : lingering_) {
    refs.push_back(ref);
    lines.push_back("del server " + ref.first + "/" + ref.second);
    if (lines.size() == kBatch) break;
  }
  auto op = cli_batch(files_.paths().admin_socket, lines, kCliTimeout);
  auto answers = co_await std::move(op);
  if (!answers) co_return;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const std::string& a = (*answers)[i];
    if (cli_success(a) || a == "No such server.") lingering_.erase(refs[i]);
  }
}

awaitable<void> HaproxyManager::stop(Duration grace) {
  auto finish = release(kFinishTimeout);
  co_await std::move(finish);
  // Asked to stop before taking over an HAProxy left running (a SIGTERM just after a start or
  // a handover): that one is this sherlock's to stop all the same.
  // (Not while the loop still runs: it may be taking that HAProxy over itself.)
  if (!process_ && !loop_running_ && config_.haproxy.manage == HaproxySettings::Manage::child) {
    auto find = find_left_running();
    process_ = co_await std::move(find);
    if (process_) {
      log::get("haproxy")->info("stopping HAProxy (pid {}) left running by an earlier sherlock",
                                process_->pid());
      asio::co_spawn(ex_, supervise(process_.get()), asio::detached);
    }
  }
  if (!process_) co_return;
  process::ChildProcess* p = process_.get();
  // SIGUSR1: stop accepting, finish what is in flight; SIGTERM when that takes too long, and
  // SIGKILL if even that is not enough. Woken at once when it exits (supervise).
  p->signal(SIGUSR1);
  auto next_signal_at = clock_.now() + grace;
  int sent = 0;
  while (process_.get() == p) {
    if (clock_.now() >= next_signal_at && sent < 2) {
      p->signal(sent == 0 ? SIGTERM : SIGKILL);
      ++sent;
      next_signal_at = clock_.now() + kKillAfterTerm;
    }
    exited_.expires_at(sent < 2 ? next_signal_at : steady::time_point::max());
    error_code ec;
    auto w = exited_.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(w);
  }
}

awaitable<pid_t> HaproxyManager::release(Duration timeout) {
  stopping_ = true;
  decider_.stop();
  wake();
  backoff_.cancel();
  if (loop_running_) {  // woken when the loop ends (start's completion handler)
    loop_ended_.expires_after(timeout);
    error_code ec;
    auto w = loop_ended_.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(w);
  }
  co_return (process_ && decider_.running()) ? process_->pid() : 0;
}

void HaproxyManager::record(bool ok, std::string reason, std::string error,
                            steady::time_point began) {
  ReloadRecord r;
  r.at = std::chrono::system_clock::now();
  r.ok = ok;
  r.reason = std::move(reason);
  r.error = std::move(error);
  r.took = std::chrono::duration_cast<Duration>(clock_.now() - began);
  last_reload_ = std::move(r);
}

}  // namespace dstack::sherlock
