// SPDX-License-Identifier: Apache-2.0
// The systemd notification protocol as systemd receives it: a datagram on $NOTIFY_SOCKET (a path
// or an abstract name), and the watchdog interval from $WATCHDOG_USEC / $WATCHDOG_PID.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "common/daemon/sd_notify.hpp"
#include "temp_dir.hpp"

namespace dstack::daemon {
namespace {

using namespace std::chrono_literals;

// A datagram socket bound where systemd would listen.
class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~FakeSystemd() {
    ::close(fd_);
    ::unsetenv("NOTIFY_SOCKET");
  }
  // The next datagram within a second; empty when none came.
  std::string receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return {};
    char buf[512];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  int fd_ = -1;
};

TEST(SdNotifyTest, SendsToAPathSocket) {
  test::TempDir dir;
  FakeSystemd systemd((dir.path() / "notify").string());
  EXPECT_TRUE(sd_notify_send("READY=1"));
  EXPECT_EQ(systemd.receive(), "READY=1");
  EXPECT_TRUE(sd_notify_send("STATUS=serving 3 services"));
  EXPECT_EQ(systemd.receive(), "STATUS=serving 3 services");
}

TEST(SdNotifyTest, SendsToAnAbstractSocket) {
  FakeSystemd systemd("@dstack-test-notify-" + std::to_string(::getpid()));
  EXPECT_TRUE(sd_notify_send("WATCHDOG=1"));
  EXPECT_EQ(systemd.receive(), "WATCHDOG=1");
}

TEST(SdNotifyTest, OutsideSystemdDoesNothing) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(sd_notify_send("READY=1"));
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_FALSE(sd_notify_send("READY=1"));
  ::setenv("NOTIFY_SOCKET", "/nonexistent/dir/notify", 1);
  EXPECT_FALSE(sd_notify_send("READY=1"));
  ::unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotifyTest, WatchdogInterval) {
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  EXPECT_FALSE(sd_watchdog_interval());
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  EXPECT_EQ(sd_watchdog_interval(), std::chrono::microseconds(30s));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(sd_watchdog_interval(), std::chrono::microseconds(30s));
  ::setenv("WATCHDOG_PID", "1", 1);  // meant for another process
  EXPECT_FALSE(sd_watchdog_interval());
  ::unsetenv("WATCHDOG_PID");
  for (const char* bad : {"", "0", "-5", "12x"}) {
    ::setenv("WATCHDOG_USEC", bad, 1);
    EXPECT_FALSE(sd_watchdog_interval()) << bad;
  }
  ::unsetenv("WATCHDOG_USEC");
}

}  // namespace
}  // namespace dstack::daemon
