// SPDX-License-Identifier: Apache-2.0
#include "sherlock/handover.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/daemon/daemon.hpp"
#include "common/process/run_command.hpp"
#include "sherlock/haproxy_files.hpp"

namespace dstack::sherlock {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr Duration kCheckTimeout = std::chrono::seconds(30);
constexpr auto kAddressesMaxAge = std::chrono::minutes(1);
constexpr unsigned kCloseRangeCloexec = 1U << 2;  // CLOSE_RANGE_CLOEXEC, Linux >= 5.11

std::string addresses_path(const std::string& state_dir) {
  return (fs::path(state_dir) / "handover-addresses.json").string();
}

std::string on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    auto candidate = fs::path(dir.empty() ? "." : dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return fs::absolute(candidate).string();
  }
  return {};
}

// Older kernels: each open descriptor marked close-on-exec one by one.
void cloexec_each_descriptor() {
  std::error_code ec;
  std::vector<int> fds;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd", ec)) {
    int fd = std::atoi(entry.path().filename().c_str());
    if (fd > 2) fds.push_back(fd);
  }
  for (int fd : fds) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

volatile std::sig_atomic_t held_terminate = 0;
volatile std::sig_atomic_t held_interrupt = 0;
volatile pid_t exec_thread = 0;

// Taken by the thread that will exec: noted (SIGHUP: dropped, this handover is what it asks
// for), and a stop raised again just before exec. Taken by another thread (Asio's resolver
// thread, say): sent on to that thread, where it is noted, or pends once that thread blocks it
// for exec.
extern "C" void note_stop_signal(int sig) {
  const int saved_errno = errno;
  if (static_cast<pid_t>(::syscall(SYS_gettid)) != exec_thread) {
    ::syscall(SYS_tgkill, ::getpid(), exec_thread, sig);
  } else if (sig == SIGTERM) {
    held_terminate = 1;
  } else if (sig == SIGINT) {
    held_interrupt = 1;
  }
  errno = saved_errno;
}

}  // namespace

SelfCommand self_command(int argc, char** argv) {
  SelfCommand self;
  for (int i = 0; i < argc; ++i) self.argv.emplace_back(argv[i]);
  const std::string program = argc > 0 ? argv[0] : "";
  // The path, not /proc/self/exe: after an upgrade that names the replaced, deleted binary.
  if (program.find('/') != std::string::npos)
    self.path = fs::absolute(program).lexically_normal().string();
  else if (!program.empty())
    self.path = on_path(program);
  if (self.path.empty()) {
    std::error_code ec;
    self.path = fs::read_symlink("/proc/self/exe", ec).string();
  }
  if (self.argv.empty()) self.argv.push_back(self.path);
  return self;
}

awaitable<std::optional<std::string>> check_successor(SelfCommand self) {
  std::vector<std::string> argv = self.argv;
  argv[0] = self.path;
  argv.push_back("--check-config");
  auto op = process::run_command(argv, {.timeout = kCheckTimeout});
  process::CommandResult r = co_await std::move(op);
  if (r.code == 0) co_return std::nullopt;
  std::string output = r.output;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  std::string why = r.timed_out  ? "timed out"
                    : r.code < 0 ? "could not run"
                                 : "exit " + std::to_string(r.code);
  co_return self.path + " --check-config: " + why + (output.empty() ? "" : ": " + output);
}

void save_handover_addresses(const std::string& state_dir,
                             const std::map<std::string, std::string>& addresses) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  json j{{"saved_at", std::chrono::duration_cast<std::chrono::seconds>(now).count()},
         {"addresses", addresses}};
  write_file_atomically(addresses_path(state_dir), j.dump() + "\n", /*sync=*/true);
}

std::map<std::string, std::string> take_handover_addresses(const std::string& state_dir) {
  const std::string path = addresses_path(state_dir);
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  in.close();
  std::error_code ec;
  fs::remove(path, ec);
  std::map<std::string, std::string> out;
  auto j = json::parse(text.str(), nullptr, false);
  if (!j.is_object() || !j.contains("saved_at") || !j["saved_at"].is_number_integer() ||
      !j.contains("addresses") || !j["addresses"].is_object())
    return out;
  const auto saved = std::chrono::system_clock::time_point(
      std::chrono::seconds(j["saved_at"].get<std::int64_t>()));
  const auto age = std::chrono::system_clock::now() - saved;
  if (age < -kAddressesMaxAge || age > kAddressesMaxAge) return out;
  for (const auto& [host, address] : j["addresses"].items())
    if (address.is_string()) out[host] = address.get<std::string>();
  return out;
}

void hold_stop_signals() {
  exec_thread = static_cast<pid_t>(::syscall(SYS_gettid));
  struct sigaction note {};
  note.sa_handler = note_stop_signal;
  note.sa_flags = SA_RESTART;  // the io thread's calls go on undisturbed
  sigemptyset(&note.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(sig, &note, nullptr);
}

bool stop_signal_held() {
  return held_terminate != 0 || held_interrupt != 0;
}

void reap_exited_children() {
  int status = 0;
  while (::waitpid(-1, &status, WNOHANG) > 0) {
  }
}

std::string exec_self(const SelfCommand& self, bool then_terminate, const ProxyListener& listener) {
  // Blocked in this thread, the one that execs: raised here or sent here from now on, they stay
  // pending through exec.
  const sigset_t handled = daemon::handled_signals();
  ::pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  // One stop only: a second one makes a daemon exit at once ("the operator insists").
  if (then_terminate || stop_signal_held()) ::raise(SIGTERM);
  if (::syscall(SYS_close_range, 3U, ~0U, kCloseRangeCloexec) != 0) cloexec_each_descriptor();
  listener.pass_on_exec();
  std::vector<char*> argv;
  for (const auto& a : self.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(self.path.c_str(), argv.data());
  return "exec " + self.path + ": " + std::strerror(errno);
}

}  // namespace dstack::sherlock
