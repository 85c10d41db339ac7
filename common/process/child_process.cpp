// SPDX-License-Identifier: Apache-2.0
#include "common/process/child_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/net/asio.hpp"
// After asio.hpp, which puts <utility> first.
#include <boost/asio/posix/stream_descriptor.hpp>

#include "common/process/spawn.hpp"

namespace dstack::process {

struct ChildProcess::Impl {
  Impl(asio::any_io_executor ex, Fd fd) : pidfd(ex, fd.release()) {}
  asio::posix::stream_descriptor pidfd;
};

ChildProcess::ChildProcess(pid_t pid, bool child, Fd pidfd, asio::any_io_executor ex)
    : pid_(pid), child_(child), impl_(std::make_unique<Impl>(ex, std::move(pidfd))) {}

ChildProcess::~ChildProcess() {
  // Reap a child that already ended so no zombie stays; one still running is left running (the
  // owner decides whether HAProxy outlives sherlock).
  if (child_ && !reaped_) {
    int st = 0;
    ::waitpid(pid_, &st, WNOHANG);
  }
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(asio::any_io_executor ex,
                                                          const std::vector<std::string>& argv,
                                                          std::vector<int> keep_fds) {
  // Checked here, not only in the child, so a missing binary is an error the caller sees now.
  if (!argv.empty() && ::access(argv[0].c_str(), X_OK) != 0)
    return Error{ErrorKind::refused, "cannot_run",
                 "cannot run " + argv[0] + ": " + std::strerror(errno)};
  auto started = process::spawn(argv, {.own_group = true, .keep_fds = std::move(keep_fds)});
  if (!started) return started.error();
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(started->pid, true, std::move(started->pidfd), ex));
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::adopt(asio::any_io_executor ex, pid_t pid) {
  Fd fd = open_pidfd(pid);
  if (!fd)
    return Error{ErrorKind::not_found, "no_process",
                 "process " + std::to_string(pid) + ": " + std::strerror(errno)};
  // Still our child when this process is the one that started it, before it exec'd itself (a
  // sherlock handover): then its exit is reaped and its status read as for any child.
  siginfo_t info{};
  const bool child =
      ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0;
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, child, std::move(fd), ex));
}

void ChildProcess::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

void ChildProcess::cancel() {
  error_code ignored;
  impl_->pidfd.cancel(ignored);
}

awaitable<int> ChildProcess::wait() {
  if (reaped_) co_return -1;
  error_code ec;
  auto op = impl_->pidfd.async_wait(asio::posix::descriptor_base::wait_read,
                                    asio::redirect_error(use_awaitable, ec));
  co_await std::move(op);
  if (ec) throw boost::system::system_error(ec);
  int code = -1;
  if (child_) {
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    code = exit_code(st);
  }
  reaped_ = true;
  co_return code;
}

}  // namespace dstack::process
