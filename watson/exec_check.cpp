// The exec check: fork + execv (never a shell), the child in its own process group, its output
// read through a pipe without blocking the io thread, the group SIGKILLed at the timeout, and the
// child reaped by polling waitid, because watson owns no SIGCHLD handler to wait on.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/net/asio.hpp"
// After asio.hpp, which puts <utility> first.
#include <boost/asio/posix/stream_descriptor.hpp>

#include "watson/check_runner.hpp"

namespace dstack::watson {
namespace {

using asio::redirect_error;

constexpr Duration kFirstPoll = std::chrono::milliseconds(1);
constexpr Duration kMaxPoll = std::chrono::milliseconds(50);

struct Child {
  explicit Child(asio::any_io_executor ex) : pipe(ex), kill_timer(ex), poll_timer(ex), done(ex) {}
  ~Child() {
    // Only when the io_context went away mid-check: leave no process and no zombie behind.
    if (pid > 0 && !reaped) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid = -1;
  bool reaped = false;
  bool timed_out = false;
  int code = 0;            // exit code, or -signal
  std::string wait_error;  // set when the exit status could not be read
  Duration poll = kFirstPoll;
  asio::posix::stream_descriptor pipe;
  asio::steady_timer kill_timer;
  asio::steady_timer poll_timer;
  asio::steady_timer done;  // cancelled once reaped
};

bool exited_unreaped(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

// Reaps the child if it has ended. Whatever it left running in its group is killed first, while
// the zombie still holds the group id, so no other process can be hit.
bool try_reap(Child& c) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == EINTR) return false;
    c.wait_error = std::string("cannot read the exit status: ") + std::strerror(errno);
  } else if (info.si_pid != c.pid) {
    return false;
  } else {
    ::kill(-c.pid, SIGKILL);
    int status = 0;
    while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
    }
    c.code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  c.reaped = true;
  c.kill_timer.cancel();
  c.poll_timer.cancel();
  c.done.cancel();
  return true;
}

void poll_child(std::shared_ptr<Child> c) {
  if (c->reaped || try_reap(*c)) return;
  c->poll_timer.expires_after(c->poll);
  c->poll = std::min(c->poll * 2, kMaxPoll);
  c->poll_timer.async_wait([c](error_code ec) {
    if (!ec) poll_child(c);
  });
}

void arm_kill(const std::shared_ptr<Child>& c, Duration timeout) {
  c->kill_timer.expires_after(timeout);
  c->kill_timer.async_wait([c](error_code ec) {
    if (ec || c->reaped) return;
    // A child that has already exited is not late; its leftovers are killed when it is reaped.
    if (!exited_unreaped(c->pid)) c->timed_out = true;
    ::kill(-c->pid, SIGKILL);
    ::kill(c->pid, SIGKILL);  // in case it has not reached its setpgid yet
    // Stop reading even if something outside the group still holds the pipe.
    error_code close_ec;
    c->pipe.close(close_ec);
  });
}

// argv[0] as execv needs it: as given when it has a '/', else the first match in $PATH.
std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* env = std::getenv("PATH");
  std::string path = env != nullptr ? env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

// In the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(int devnull, int out, const char* program, char* const* argv,
                             const std::string& failure_prefix) {
  ::setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);
  if (::dup2(devnull, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) ::_exit(127);
  ::close_range(3, ~0U, 0);  // the daemon's sockets and files are not the check's business
  ::execv(program, argv);
  int err = errno;
  const char* text = strerrordesc_np(err);
  if (text == nullptr) text = "unknown error";
  [[maybe_unused]] auto n = ::write(2, failure_prefix.data(), failure_prefix.size());
  n = ::write(2, text, std::strlen(text));
  n = ::write(2, "\n", 1);
  ::_exit(127);
}

}  // namespace

awaitable<CheckOutcome> run_exec_check(std::vector<std::string> argv, Duration timeout) {
  if (argv.empty()) co_return CheckOutcome{CheckStatus::critical, "no command to run"};
  std::string program = resolve_program(argv[0]);
  std::string failure_prefix = "cannot run " + argv[0] + ": ";
  std::vector<char*> cargv;
  for (auto& arg : argv) cargv.push_back(arg.data());
  cargv.push_back(nullptr);

  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0)
    co_return CheckOutcome{CheckStatus::critical,
                           bound_output(std::string("cannot start: ") + std::strerror(errno))};
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    std::string why = std::string("cannot start: /dev/null: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    co_return CheckOutcome{CheckStatus::critical, bound_output(why)};
  }

  auto ex = co_await asio::this_coro::executor;
  auto child = std::make_shared<Child>(ex);
  pid_t pid = ::fork();
  if (pid == 0) exec_child(devnull, fds[1], program.c_str(), cargv.data(), failure_prefix);
  int fork_errno = errno;
  ::close(devnull);
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    co_return CheckOutcome{CheckStatus::critical,
                           bound_output(std::string("cannot start: ") + std::strerror(fork_errno))};
  }
  child->pid = pid;
  ::setpgid(pid, pid);  // also here, so the group exists before any kill; EACCES after exec is fine
  error_code ec;
  child->pipe.assign(fds[0], ec);
  if (ec) ::close(fds[0]);
  arm_kill(child, timeout);
  poll_child(child);

  // Keep a little more than can be shown, so bound_output marks the cut; drain the rest so the
  // child never blocks on a full pipe.
  std::string output;
  std::array<char, 4096> buf{};
  while (!ec) {
    std::size_t n =
        co_await child->pipe.async_read_some(asio::buffer(buf), redirect_error(use_awaitable, ec));
    std::size_t room = kMaxCheckOutput + 8 - std::min(output.size(), kMaxCheckOutput + 8);
    output.append(buf.data(), std::min(n, room));
  }
  error_code close_ec;
  child->pipe.close(close_ec);

  // After EOF the child may still run (it closed its output); the kill timer still bounds it.
  while (!child->reaped) {
    child->done.expires_after(std::chrono::hours(24));
    error_code wait_ec;
    co_await child->done.async_wait(redirect_error(use_awaitable, wait_ec));
  }
  if (!child->wait_error.empty())
    co_return CheckOutcome{CheckStatus::critical, bound_output(child->wait_error)};
  co_return evaluate_exec(child->code, child->timed_out, timeout, output);
}

}  // namespace dstack::watson
