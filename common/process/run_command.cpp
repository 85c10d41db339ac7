// SPDX-License-Identifier: Apache-2.0
#include "common/process/run_command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/net/asio.hpp"
// After asio.hpp, which puts <utility> first.
#include <boost/asio/posix/stream_descriptor.hpp>

#include "common/process/spawn.hpp"

namespace dstack::process {
namespace {

// True once `pid` has ended (a zombie not yet reaped).
bool ended(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

// Kills and reaps the command if the coroutine is destroyed before it has (the io_context went
// away mid-run), so no process and no zombie stay behind.
struct Reaper {
  pid_t pid;
  bool own_group;
  bool reaped = false;
  ~Reaper() {
    if (reaped) return;
    if (own_group) ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
};

}  // namespace

awaitable<CommandResult> run_command(std::vector<std::string> argv, RunOptions options) {
  auto ex = co_await asio::this_coro::executor;
  CommandResult result;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result.output = std::string("cannot run: pipe: ") + std::strerror(errno);
    co_return result;
  }
  Fd read_end(fds[0]), write_end(fds[1]);
  auto started = spawn(argv, {.output = write_end.get(),
                              .own_group = options.own_group,
                              .die_with_parent = true,
                              .search_path = options.search_path,
                              .keep_fds = options.keep_fds});
  write_end.reset();  // only the child holds it now: EOF comes when the child's side closes
  if (!started) {
    result.output = started.error().message;
    co_return result;
  }
  const pid_t pid = started->pid;
  Reaper reaper{pid, options.own_group};
  asio::posix::stream_descriptor pidfd(ex, started->pidfd.release());
  asio::posix::stream_descriptor pipe(ex, read_end.release());
  asio::steady_timer deadline(ex), exit_seen(ex);
  exit_seen.expires_at(asio::steady_timer::time_point::max());
  bool exited = false;

  auto kill_group = [&] {
    // While the ended child is unreaped it still holds the group id, so no other process can be
    // hit by this.
    if (options.own_group) ::kill(-pid, SIGKILL);
  };
  pidfd.async_wait(asio::posix::descriptor_base::wait_read, [&](const error_code& ec) {
    if (ec) return;
    exited = true;
    kill_group();  // what it left in the background, which may hold the pipe open
    exit_seen.cancel();
  });
  deadline.expires_after(options.timeout);
  deadline.async_wait([&](const error_code& ec) {
    if (ec) return;
    // A command that has already ended is not late; only its leftovers are.
    if (!exited && !ended(pid)) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
    }
    kill_group();
    error_code ignored;
    pipe.close(ignored);  // stop reading even if something outside the group holds the pipe
  });

  std::array<char, 4096> buf{};
  for (;;) {
    error_code ec;
    auto op = pipe.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    std::size_t n = co_await std::move(op);
    if (ec) break;  // EOF, or closed at the deadline
    const std::size_t room =
        options.max_output - std::min(result.output.size(), options.max_output);
    result.output.append(buf.data(), std::min(n, room));
  }
  while (!exited) {  // it may have closed its output and run on; the deadline still bounds it
    error_code ec;
    auto op = exit_seen.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(op);
  }
  deadline.cancel();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  reaper.reaped = true;
  result.code = exit_code(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  co_return result;
}

}  // namespace dstack::process
