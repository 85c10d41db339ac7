// SPDX-License-Identifier: Apache-2.0
#include "common/process/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dstack::process {
namespace {

void write_all(const char* text) {
  [[maybe_unused]] auto n = ::write(2, text, std::strlen(text));
}

// In the child between fork and exec: async-signal-safe calls only (strerrordesc_np reads a
// static table; strerror may lock and translate).
[[noreturn]] void exec_child(const char* program, char* const* argv, const char* shown_name,
                             int devnull, const SpawnOptions& o) {
  if (o.own_group) ::setpgid(0, 0);
  if (o.die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);  // the daemons ignore it; ignoring is inherited by exec
  if (devnull >= 0) ::dup2(devnull, 0);
  if (o.output >= 0) {
    ::dup2(o.output, 1);
    ::dup2(o.output, 2);
  }
  // The daemon's sockets and files are not the child's business, but for those it is handed
  // (sorted, so the ranges between them can be closed).
  unsigned from = 3;
  for (int fd : o.keep_fds) {
    const auto kept = static_cast<unsigned>(fd);
    if (kept < from) continue;
    if (kept > from) ::close_range(from, kept - 1, 0);
    ::fcntl(fd, F_SETFD, 0);  // kept across exec
    from = kept + 1;
  }
  ::close_range(from, ~0U, 0);
  ::execv(program, argv);
  const char* why = strerrordesc_np(errno);
  write_all("cannot run ");
  write_all(shown_name);
  write_all(": ");
  write_all(why != nullptr ? why : "unknown error");
  write_all("\n");
  ::_exit(127);
}

}  // namespace

Fd open_pidfd(pid_t pid) {
  return Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

int exit_code(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::string find_program(const std::string& name) {
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

Result<Spawned> spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty() || argv[0].empty())
    return Error{ErrorKind::refused, "no_program", "no program to run"};
  // Everything the child needs is made before the fork.
  const std::string program = options.search_path ? find_program(argv[0]) : argv[0];
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  SpawnOptions o = options;
  std::sort(o.keep_fds.begin(), o.keep_fds.end());

  pid_t pid = ::fork();
  if (pid == 0) exec_child(program.c_str(), cargv.data(), argv[0].c_str(), devnull.get(), o);
  if (pid < 0)
    return Error{ErrorKind::server, "fork",
                 "cannot run " + argv[0] + ": fork: " + std::strerror(errno)};
  // Also here, so the group exists before anyone signals it (EACCES once it has exec'd is fine).
  if (options.own_group) ::setpgid(pid, pid);
  Fd pidfd = open_pidfd(pid);
  if (!pidfd) {
    int e = errno;
    ::kill(pid, SIGKILL);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return Error{ErrorKind::server, "pidfd",
                 "cannot watch " + argv[0] + ": pidfd_open: " + std::strerror(e)};
  }
  return Spawned{pid, std::move(pidfd)};
}

}  // namespace dstack::process
