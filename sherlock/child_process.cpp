#include "sherlock/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/net/asio.hpp"
// After asio.hpp, which puts <utility> first.
#include <boost/asio/posix/stream_descriptor.hpp>

namespace dstack::sherlock {
namespace {

constexpr std::size_t kMaxOutput = 64 << 10;

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// In the child between fork and exec: async-signal-safe calls only. `out` >= 0 becomes stdout
// and stderr. sherlock's own descriptors (its sockets, the directory connection) are closed so
// that HAProxy never holds them after sherlock is gone.
[[noreturn]] void exec_child(char* const* argv, int out, bool die_with_parent, bool own_group) {
  if (own_group) ::setpgid(0, 0);  // a Ctrl-C on sherlock's terminal is sherlock's to handle
  if (die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) ::dup2(null, 0);
  if (out >= 0) {
    ::dup2(out, 1);
    ::dup2(out, 2);
  }
  ::syscall(SYS_close_range, 3U, ~0U, 0U);
  ::execv(argv[0], argv);
  const char* why = std::strerror(errno);
  (void)!::write(2, "cannot start ", 13);
  (void)!::write(2, argv[0], std::strlen(argv[0]));
  (void)!::write(2, ": ", 2);
  (void)!::write(2, why, std::strlen(why));
  (void)!::write(2, "\n", 1);
  ::_exit(127);
}

// fork + exec, and a pidfd on the child. The error names the program.
Result<std::pair<pid_t, int>> start(const std::vector<std::string>& argv, int out,
                                    bool die_with_parent, bool own_group) {
  if (argv.empty() || argv[0].empty())
    return Error{ErrorKind::refused, "no_program", "no program to run"};
  if (::access(argv[0].c_str(), X_OK) != 0)
    return Error{ErrorKind::refused, "cannot_run",
                 "cannot run " + argv[0] + ": " + std::strerror(errno)};
  auto args = c_argv(argv);
  pid_t pid = ::fork();
  if (pid < 0)
    return Error{ErrorKind::server, "fork", std::string("fork: ") + std::strerror(errno)};
  if (pid == 0) exec_child(args.data(), out, die_with_parent, own_group);
  int fd = pidfd_open(pid);
  if (fd < 0) {
    int e = errno;
    ::kill(pid, SIGKILL);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return Error{ErrorKind::server, "pidfd", std::string("pidfd_open: ") + std::strerror(e)};
  }
  return std::make_pair(pid, fd);
}

}  // namespace

struct ProcessHandle::Impl {
  Impl(asio::any_io_executor ex, int fd) : pidfd(ex, fd) {}
  asio::posix::stream_descriptor pidfd;
};

ProcessHandle::ProcessHandle(pid_t pid, bool child, int pidfd, asio::any_io_executor ex)
    : pid_(pid), child_(child), impl_(std::make_unique<Impl>(ex, pidfd)) {}

ProcessHandle::~ProcessHandle() {
  // Reap a child that already ended so no zombie stays; one still running is left running (the
  // owner decides whether HAProxy outlives sherlock).
  if (child_ && !reaped_) {
    int st = 0;
    ::waitpid(pid_, &st, WNOHANG);
  }
}

Result<std::unique_ptr<ProcessHandle>> ProcessHandle::spawn(asio::any_io_executor ex,
                                                            const std::vector<std::string>& argv) {
  auto started = start(argv, -1, /*die_with_parent=*/false, /*own_group=*/true);
  if (!started) return started.error();
  auto [pid, fd] = *started;
  return std::unique_ptr<ProcessHandle>(new ProcessHandle(pid, true, fd, ex));
}

Result<std::unique_ptr<ProcessHandle>> ProcessHandle::adopt(asio::any_io_executor ex, pid_t pid) {
  int fd = pidfd_open(pid);
  if (fd < 0)
    return Error{ErrorKind::not_found, "no_process",
                 "process " + std::to_string(pid) + ": " + std::strerror(errno)};
  // Still sherlock's child when this sherlock is the one that started it, before it exec'd
  // itself (a handover): then its exit is reaped and its status read as for any child.
  siginfo_t info{};
  const bool child =
      ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0;
  return std::unique_ptr<ProcessHandle>(new ProcessHandle(pid, child, fd, ex));
}

void ProcessHandle::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

void ProcessHandle::cancel() {
  error_code ignored;
  impl_->pidfd.cancel(ignored);
}

awaitable<int> ProcessHandle::wait() {
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
    code = decode_status(st);
  }
  reaped_ = true;
  co_return code;
}

awaitable<CommandResult> run_command(std::vector<std::string> argv, Duration timeout) {
  auto ex = co_await asio::this_coro::executor;
  CommandResult result;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result.output = std::string("pipe: ") + std::strerror(errno);
    co_return result;
  }
  auto started = start(argv, fds[1], /*die_with_parent=*/true, /*own_group=*/false);
  ::close(fds[1]);
  if (!started) {
    ::close(fds[0]);
    result.output = started.error().message;
    co_return result;
  }
  auto [pid, pidfd] = *started;
  ProcessHandle handle(pid, true, pidfd, ex);
  asio::posix::stream_descriptor pipe(ex, fds[0]);

  asio::steady_timer deadline(ex);
  deadline.expires_after(timeout);
  deadline.async_wait([&](const error_code& ec) {
    if (ec) return;
    result.timed_out = true;
    ::kill(pid, SIGKILL);
    error_code ignored;
    pipe.close(ignored);  // a grandchild may still hold the pipe's other end
  });

  char buf[4096];
  for (;;) {
    error_code ec;
    auto op = pipe.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    std::size_t n = co_await std::move(op);
    if (ec) break;  // EOF: the command and anything it started closed the pipe
    if (result.output.size() < kMaxOutput)
      result.output.append(buf, std::min(n, kMaxOutput - result.output.size()));
  }
  auto wait = handle.wait();
  result.code = co_await std::move(wait);
  deadline.cancel();
  co_return result;
}

}  // namespace dstack::sherlock
