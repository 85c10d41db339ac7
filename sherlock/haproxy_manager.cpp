#include "sherlock/haproxy_manager.hpp"

#include <signal.h>

#include <fstream>
#include <sstream>

#include "common/core/exception_text.hpp"
#include "common/log/log.hpp"
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
constexpr Duration kDeleteRetry = std::chrono::seconds(1);
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

HaproxyManager::HaproxyManager(asio::any_io_executor ex, const SherlockConfig& config)
    : ex_(ex),
      config_(config),
      files_(config),
      wake_(ex),
      backoff_(ex),
      restart_backoff_(std::chrono::milliseconds(500), std::chrono::seconds(30)) {}

HaproxyManager::~HaproxyManager() = default;

void HaproxyManager::start() {
  files_.prepare_run_dir();
  loop_running_ = true;
  asio::co_spawn(ex_, run(), [this](std::exception_ptr e) {
    loop_running_ = false;
    if (e) log::get("haproxy")->critical("the HAProxy manager stopped: {}", exception_text(e));
  });
}

void HaproxyManager::submit(Plan desired) {
  desired_ = std::make_shared<const Plan>(std::move(desired));
  ++desired_gen_;
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
  auto log = log::get("haproxy");
  for (;;) {
    if (stopping_) co_return;
    dirty_ = false;
    const std::uint64_t gen = desired_gen_;
    const PlanPtr want = desired_;
    if (refused_gen_ && *refused_gen_ != gen) refused_gen_.reset();

    if (!running_) {
      if (refused_gen_) {  // the config for this plan was refused: wait for another plan
        auto op = sleep_until(steady::time_point::max());
        co_await std::move(op);
        continue;
      }
      auto op = start_haproxy(want);
      bool up = co_await std::move(op);
      if (!up && !stopping_ && !refused_gen_) {
        // Not woken by plans (one every few ms must not turn this into a tight loop), only by a
        // stop or a release.
        backoff_.expires_after(restart_backoff_.next());
        error_code ec;
        auto w = backoff_.async_wait(asio::redirect_error(use_awaitable, ec));
        co_await std::move(w);
      }
      continue;
    }

    if (reload_wanted_ || needs_reload(*applied_, *want)) {
      // Other services' instance changes need not wait for the reload's slot.
      auto part = apply_runtime(std::make_shared<const Plan>(runtime_part(*applied_, *want)));
      co_await std::move(part);
      if (refused_gen_) {
        auto op = sleep_until(steady::time_point::max());
        co_await std::move(op);
        continue;
      }
      if (steady::now() < next_reload_at_) {
        auto op = sleep_until(next_reload_at_);
        co_await std::move(op);
        continue;  // re-read the newest plan: bursts become one reload
      }
      std::string reason = reload_wanted_ ? reload_reason_ : "services or listeners changed";
      auto op = reload(want, reason);
      bool ok = co_await std::move(op);
      if (!ok) refused_gen_ = gen;
      continue;
    }

    auto op = apply_runtime(want);
    co_await std::move(op);
    if (dirty_ || reload_wanted_) continue;
    if (!lingering_.empty()) {
      auto s = sleep_until(steady::now() + kDeleteRetry);
      co_await std::move(s);
      if (!dirty_) {
        auto r = retry_deletes();
        co_await std::move(r);
      }
      continue;
    }
    auto s = sleep_until(steady::time_point::max());
    co_await std::move(s);
  }
}

awaitable<void> HaproxyManager::supervise(ProcessHandle* process) {
  int code = -1;
  try {
    auto op = process->wait();
    code = co_await std::move(op);
  } catch (const std::exception&) {
    co_return;  // sherlock is going away
  }
  if (process_.get() != process) co_return;
  process_.reset();
  running_ = false;
  if (stopping_) co_return;
  ++counters_.haproxy_exits;
  last_error_ = "HAProxy exited" + (code >= 0 ? " with status " + std::to_string(code) : "");
  log::get("haproxy")->error("{}; starting it again", last_error_);
  wake();
}

awaitable<std::unique_ptr<ProcessHandle>> HaproxyManager::find_left_running() {
  pid_t pid = running_haproxy(files_.pid_file());
  if (pid == 0) co_return nullptr;
  auto op = show_proc(files_.master_socket(), kCliTimeout);
  auto procs = co_await std::move(op);
  if (!procs || procs->master != pid) co_return nullptr;
  auto handle = ProcessHandle::adopt(ex_, pid);
  if (!handle) co_return nullptr;
  co_return std::move(*handle);
}

awaitable<bool> HaproxyManager::adopt_running(PlanPtr want) {
  auto find = find_left_running();
  auto handle = co_await std::move(find);
  if (!handle) co_return false;
  log::get("haproxy")->info("taking over HAProxy (pid {}) left running by an earlier sherlock",
                            handle->pid());
  process_ = std::move(handle);
  asio::co_spawn(ex_, supervise(process_.get()), asio::detached);
  running_ = true;
  lingering_.clear();
  auto r = reload(want, "taking over a running HAProxy");
  bool ok = co_await std::move(r);
  if (!ok) refused_gen_ = desired_gen_;
  co_return true;
}

awaitable<bool> HaproxyManager::start_haproxy(PlanPtr want) {
  auto log = log::get("haproxy");
  const auto began = steady::now();
  if (config_.haproxy.manage == HaproxySettings::Manage::child) {
    auto adopt = adopt_running(want);
    if (co_await std::move(adopt)) co_return true;
  }
  auto install = files_.install(*want);
  auto refused = co_await std::move(install);
  if (refused) {
    ++counters_.failed_validations;
    refused_gen_ = desired_gen_;
    last_error_ = *refused;
    log->error("cannot start HAProxy: {}", *refused);
    record(false, "start", *refused, began);
    co_return false;
  }

  if (config_.haproxy.manage == HaproxySettings::Manage::external) {
    auto run = run_command(split_words(config_.haproxy.reload_command), kCommandTimeout);
    CommandResult r = co_await std::move(run);
    if (r.code != 0) {
      last_error_ = "reload_command failed (exit " + std::to_string(r.code) + "): " + r.output;
      log->error("{}", last_error_);
      record(false, "first config", last_error_, began);
      co_return false;
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
    auto spawned = ProcessHandle::spawn(ex_, argv);
    if (!spawned) {
      last_error_ = spawned.error().message;
      log->error("cannot start HAProxy: {}", last_error_);
      co_return false;
    }
    process_ = std::move(*spawned);
    ++counters_.haproxy_starts;
    ProcessHandle* mine = process_.get();
    asio::co_spawn(ex_, supervise(mine), asio::detached);
    // Up when its master reports a worker; gone if supervise saw it exit first.
    const auto deadline = steady::now() + kStartTimeout;
    bool up = false;
    while (!up && !stopping_ && process_.get() == mine && steady::now() < deadline) {
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
    if (!up && stopping_) co_return false;  // stop() deals with it
    if (!up) {
      last_error_ = "HAProxy did not start (its log above says why)";
      log->error("{}", last_error_);
      if (process_.get() == mine) process_->signal(SIGKILL);
      record(false, "start", last_error_, began);
      co_return false;
    }
    log->info("HAProxy started (pid {}), serving {} service(s) on {}", mine->pid(),
              want->backends.size(), config_.proxy.to_string());
  }
  files_.mark_loaded();
  running_ = true;
  applied_ = want;
  lingering_.clear();
  reload_wanted_ = false;
  restart_backoff_.reset();
  next_reload_at_ = steady::now() + config_.haproxy.min_reload_interval;
  record(true, "start", "", began);
  if (on_applied_) on_applied_();
  co_return true;
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

awaitable<bool> HaproxyManager::reload(PlanPtr want, std::string reason) {
  auto log = log::get("haproxy");
  const auto began = steady::now();
  reload_wanted_ = false;
  auto install = files_.install(*want);
  auto refused = co_await std::move(install);
  if (refused) {
    ++counters_.failed_validations;
    last_error_ = *refused;
    log->error("not reloading ({}): {}; the running config stays", reason, *refused);
    record(false, reason, *refused, began);
    co_return false;
  }
  auto save = save_server_state();
  co_await std::move(save);

  Status st = Ok{};
  if (config_.haproxy.manage == HaproxySettings::Manage::external) {
    auto run = run_command(split_words(config_.haproxy.reload_command), kCommandTimeout);
    CommandResult r = co_await std::move(run);
    if (r.code != 0)
      st = Error{ErrorKind::refused, "reload_command",
                 "reload_command failed (exit " + std::to_string(r.code) + "): " + r.output};
  } else {
    auto op = reload_master(files_.master_socket(), kReloadTimeout);
    st = co_await std::move(op);
  }
  next_reload_at_ = steady::now() + config_.haproxy.min_reload_interval;
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
    co_return false;
  }
  ++counters_.reloads;
  files_.mark_loaded();
  applied_ = want;
  lingering_.clear();
  record(true, reason, "", began);
  log->info("HAProxy reloaded ({}): {} service(s), in {} ms", reason, want->backends.size(),
            std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - began).count());
  if (on_applied_) on_applied_();
  co_return true;
}

awaitable<void> HaproxyManager::apply_runtime(PlanPtr want) {
  auto log = log::get("haproxy");
  RuntimeDiff diff = runtime_diff(*applied_, lingering_, *want, config_, files_.paths());
  if (diff.needs_reload) {
    if (!reload_wanted_) reload_reason_ = "a server's TLS settings changed";
    reload_wanted_ = true;
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
      reload_wanted_ = true;
      reload_reason_ = "the runtime API failed";
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
        reload_wanted_ = true;
        reload_reason_ = "a runtime command was refused";
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
  ProcessHandle* p = process_.get();
  // SIGUSR1: stop accepting, finish what is in flight; SIGTERM when that takes too long.
  p->signal(SIGUSR1);
  const auto deadline = steady::now() + grace;
  int sent_term = 0;
  while (process_.get() == p) {
    if (steady::now() > deadline && sent_term < 2) {
      p->signal(sent_term == 0 ? SIGTERM : SIGKILL);
      ++sent_term;
    }
    asio::steady_timer t(ex_);
    t.expires_after(std::chrono::milliseconds(20));
    auto w = t.async_wait(use_awaitable);
    co_await std::move(w);
  }
}

awaitable<pid_t> HaproxyManager::release(Duration timeout) {
  stopping_ = true;
  wake();
  backoff_.cancel();
  const auto deadline = steady::now() + timeout;
  while (loop_running_ && steady::now() < deadline) {
    asio::steady_timer t(ex_);
    t.expires_after(std::chrono::milliseconds(10));
    auto w = t.async_wait(use_awaitable);
    co_await std::move(w);
  }
  co_return (process_ && running_) ? process_->pid() : 0;
}

void HaproxyManager::record(bool ok, std::string reason, std::string error,
                            steady::time_point began) {
  ReloadRecord r;
  r.at = std::chrono::system_clock::now();
  r.ok = ok;
  r.reason = std::move(reason);
  r.error = std::move(error);
  r.took = std::chrono::duration_cast<Duration>(steady::now() - began);
  last_reload_ = std::move(r);
}

}  // namespace dstack::sherlock
