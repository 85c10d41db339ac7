// SPDX-License-Identifier: Apache-2.0
// The one process utility (common/process) with real programs: what a command's caller sees
// (exit code, signal, output, deadline), what the command sees (empty stdin, no inherited
// descriptors, no blocked or ignored signals) and what it leaves behind (nothing).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <exception>
#include <optional>

#include "common/process/child_process.hpp"
#include "common/process/run_command.hpp"
#include "harness.hpp"

namespace dstack::process {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Runs `op` on `io` to its end (30 s at most).
template <class T>
T run_io(asio::io_context& io, awaitable<T> op) {
  std::optional<T> out;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
    failure = e;
    out = std::move(value);
  });
  io.run_for(30s);
  if (failure) std::rethrow_exception(failure);
  EXPECT_TRUE(out.has_value()) << "did not finish within 30 s";
  return out.value_or(T{});
}

template <class T>
T run_io(awaitable<T> op) {
  asio::io_context io;
  return run_io(io, std::move(op));
}

CommandResult run(std::vector<std::string> argv, RunOptions o = {}) {
  return run_io(run_command(std::move(argv), o));
}

// Processes still alive (not zombies) in process group `group`.
int live_in_group(pid_t group) {
  return ::kill(-group, 0) == 0 ? 1 : 0;
}

TEST(RunCommand, ExitCodeAndOutputOfBothStreams) {
  auto r = run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.signal, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.output, "out\nerr\n");
}

TEST(RunCommand, ASignalIs128PlusItsNumber) {
  auto r = run({"/bin/sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.code, 128 + SIGTERM);
  EXPECT_EQ(r.signal, SIGTERM);
}

TEST(RunCommand, TheDeadlineKillsItAndSaysSo) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run({"/bin/sh", "-c", "echo started; exec sleep 10"}, {.timeout = 200ms});
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.output, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(RunCommand, InItsOwnGroupNothingItStartedOutlivesIt) {
  // The background sleep holds the output pipe; the command still ends with its shell.
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run({"/bin/sh", "-c", "echo $$; sleep 10 &"}, {.timeout = 5s, .own_group = true});
  EXPECT_EQ(r.code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  const pid_t group = std::stoi(r.output);
  EXPECT_TRUE(test::poll_until(2s, [&] { return live_in_group(group) == 0; }));
}

TEST(RunCommand, OutputIsBoundedAndTheRestDrained) {
  auto r = run({"/bin/sh", "-c", "yes | head -c 1000000; echo end >&2"}, {.max_output = 100});
  EXPECT_EQ(r.code, 0) << "blocked on a full pipe?";
  EXPECT_EQ(r.output.size(), 100u);
}

TEST(RunCommand, AMissingProgramSaysWhyAsAShellWould) {
  auto r = run({"/nonexistent/prog", "x"});
  EXPECT_EQ(r.code, 127);
  EXPECT_EQ(r.output, "cannot run /nonexistent/prog: No such file or directory\n");
  auto searched = run({"no-such-program-here"}, {.search_path = true});
  EXPECT_EQ(searched.code, 127);
  EXPECT_EQ(searched.output, "cannot run no-such-program-here: No such file or directory\n");
  auto empty = run({});
  EXPECT_EQ(empty.code, -1);
  EXPECT_EQ(empty.output, "no program to run");
}

TEST(RunCommand, ProgramsAreFoundInPathOnlyWhenAsked) {
  EXPECT_EQ(run({"true"}, {.search_path = true}).code, 0);
  EXPECT_EQ(run({"true"}).code, 127);
}

TEST(RunCommand, TheCommandSeesEmptyStdinNoInheritedDescriptorsAndNoMaskedSignals) {
  // The daemons ignore SIGPIPE and block signals in threads; a command must get neither.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old {};
  ::sigaction(SIGPIPE, &ignore, &old);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  test::TempDir dir;
  const int inherited = ::open(dir.path().c_str(), O_RDONLY);  // without O_CLOEXEC
  auto r = run({"/bin/sh", "-c",
                "cat; ls /proc/self/fd | wc -l; grep -E '^Sig(Blk|Ign)' /proc/self/status"});
  ::close(inherited);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old, nullptr);
  ASSERT_EQ(r.code, 0) << r.output;
  // ls sees 0, 1, 2 and the directory it reads; cat read nothing.
  EXPECT_THAT(r.output, StartsWith("4\n")) << r.output;
  EXPECT_THAT(r.output, HasSubstr("SigBlk:\t0000000000000000\n"));
  EXPECT_THAT(r.output, HasSubstr("SigIgn:\t0000000000000000\n"));
}

TEST(ChildProcess, WaitGivesTheExitCodeAndSignalsReachIt) {
  asio::io_context io;
  auto child = ChildProcess::spawn(io.get_executor(), {"/bin/sleep", "10"});
  ASSERT_TRUE(child) << child.error().message;
  const pid_t pid = (*child)->pid();
  EXPECT_EQ(::getpgid(pid), pid) << "not in a group of its own";
  (*child)->signal(SIGTERM);
  EXPECT_EQ(run_io(io, (*child)->wait()), 128 + SIGTERM);
  EXPECT_NE(::kill(pid, 0), 0) << "not reaped";
}

TEST(ChildProcess, AProgramThatCannotRunIsRefusedByName) {
  asio::io_context io;
  auto child = ChildProcess::spawn(io.get_executor(), {"/nonexistent/haproxy", "-W"});
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().message, "cannot run /nonexistent/haproxy: No such file or directory");
}

TEST(ChildProcess, AnAdoptedStrangerIsWatchedButItsCodeIsUnknown) {
  // A process that is not our child: started by a shell that exits at once.
  auto r = run({"/bin/sh", "-c", "sleep 10 >/dev/null 2>&1 & echo $!"});
  const pid_t pid = std::stoi(r.output);
  asio::io_context io;
  auto adopted = ChildProcess::adopt(io.get_executor(), pid);
  ASSERT_TRUE(adopted) << adopted.error().message;
  (*adopted)->signal(SIGKILL);
  EXPECT_EQ(run_io(io, (*adopted)->wait()), -1);
  // Once its parent (init) has reaped it, there is nothing to adopt.
  EXPECT_TRUE(test::poll_until(5s, [&] { return !ChildProcess::adopt(io.get_executor(), pid); }));
}

}  // namespace
}  // namespace dstack::process
