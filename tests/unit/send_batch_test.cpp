// SPDX-License-Identifier: Apache-2.0
// SendBatch over real loopback TCP connections: every send of a flush goes, in one submission or
// several, and each answers as send(2) would — a full socket -EAGAIN, a closed descriptor
// -EBADF — without keeping the others from going.
#include "common/net/send_batch.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/core/fd.hpp"

namespace dstack::net {
namespace {

// Both ends of one loopback TCP connection.
struct Connection {
  Fd sender, receiver;
};

Connection connect_pair() {
  Fd listener(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::listen(listener.get(), 1), 0);
  EXPECT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Connection c;
  c.receiver = Fd(::socket(AF_INET, SOCK_STREAM, 0));
  EXPECT_EQ(::connect(c.receiver.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  c.sender = Fd(::accept(listener.get(), nullptr, nullptr));
  return c;
}

// What the receiver gets, read until it holds `want` bytes or 5 s pass. A send that completed
// has left the sender, but on a loaded machine loopback's receiving side may run a little later.
std::string received(const Connection& c, std::size_t want) {
  std::string out;
  char buf[65536];
  for (int waits = 0; out.size() < want && waits < 5000;) {
    const ssize_t n = ::recv(c.receiver.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) break;  // closed
    pollfd readable{c.receiver.get(), POLLIN, 0};
    waits += ::poll(&readable, 1, 1) == 0 ? 1 : 0;
  }
  return out;
}

// Fills `c` as a reader that stopped reading leaves it: the sender takes nothing more, not even a
// byte, and nothing will make room later. The send buffer gets a fixed size (the kernel's tuning
// could grow it after the fill), and the fill is done again until every byte sent has been
// acknowledged, so no acknowledgement still on its way frees room once it is over.
void fill(const Connection& c) {
  const int size = 64 << 10;
  ASSERT_EQ(::setsockopt(c.sender.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
  const std::string block(4096, 'x');
  for (int attempt = 0; attempt < 5000; ++attempt) {
    for (std::size_t chunk = block.size(); chunk > 0;) {
      if (::send(c.sender.get(), block.data(), chunk, MSG_DONTWAIT) >= 0) continue;
      ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << errno;
      chunk /= 2;
    }
    int queued = 0, unsent = 0;
    ASSERT_EQ(::ioctl(c.sender.get(), SIOCOUTQ, &queued), 0);
    ASSERT_EQ(::ioctl(c.sender.get(), SIOCOUTQNSD, &unsent), 0);
    if (queued == unsent && ::send(c.sender.get(), "x", 1, MSG_DONTWAIT) < 0) return;
    ::poll(nullptr, 0, 1);  // acknowledgements on their way: let them in, then fill again
  }
  FAIL() << "the socket never stayed full";
}

std::unique_ptr<SendBatch> open_batch(unsigned entries) {
  std::string why;
  auto batch = SendBatch::open(entries, why);
  // The suite runs where the directory does; a kernel without io_uring would be news.
  EXPECT_NE(batch, nullptr) << why;
  return batch;
}

TEST(SendBatchTest, SendsToEveryConnectionInOrderAndTellsEachResult) {
  auto batch = open_batch(64);
  ASSERT_NE(batch, nullptr);
  std::vector<Connection> conns;
  for (int i = 0; i < 3; ++i) conns.push_back(connect_pair());
  const std::string first = "one\n", second = "two, longer\n";
  for (int round = 0; round < 2; ++round) {
    const std::string& text = round == 0 ? first : second;
    for (auto& c : conns) batch->add(c.sender.get(), text.data(), text.size(), &c);
    EXPECT_FALSE(batch->empty());
    const auto& sent = batch->flush();
    EXPECT_TRUE(batch->empty());
    ASSERT_EQ(sent.size(), conns.size());
    for (std::size_t i = 0; i < conns.size(); ++i) {
      EXPECT_EQ(sent[i].tag, &conns[i]);
      EXPECT_EQ(sent[i].result, static_cast<long>(text.size()));
    }
  }
  for (const auto& c : conns) EXPECT_EQ(received(c, (first + second).size()), first + second);
  EXPECT_EQ(batch->ring_sends(), 6u);
  EXPECT_EQ(batch->single_sends(), 0u);
}

TEST(SendBatchTest, MoreSendsThanTheRingHoldsAllGo) {
  auto batch = open_batch(4);
  ASSERT_NE(batch, nullptr);
  std::vector<Connection> conns;
  for (int i = 0; i < 11; ++i) conns.push_back(connect_pair());
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < conns.size(); ++i) texts.push_back("event " + std::to_string(i));
  for (std::size_t i = 0; i < conns.size(); ++i)
    batch->add(conns[i].sender.get(), texts[i].data(), texts[i].size(), &conns[i]);
  const auto& sent = batch->flush();
  ASSERT_EQ(sent.size(), conns.size());
  for (std::size_t i = 0; i < conns.size(); ++i) {
    EXPECT_EQ(sent[i].result, static_cast<long>(texts[i].size())) << i;
    EXPECT_EQ(received(conns[i], texts[i].size()), texts[i]) << i;
  }
}

TEST(SendBatchTest, AFullSocketAnswersEagainAndTheOthersStillGo) {
  auto batch = open_batch(64);
  ASSERT_NE(batch, nullptr);
  Connection full = connect_pair(), fine = connect_pair();
  fill(full);
  const std::string text = "after\n";
  batch->add(full.sender.get(), text.data(), text.size(), &full);
  batch->add(fine.sender.get(), text.data(), text.size(), &fine);
  const auto& sent = batch->flush();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].result, -EAGAIN);
  EXPECT_EQ(sent[1].result, static_cast<long>(text.size()));
  EXPECT_EQ(received(fine, text.size()), text);
}

TEST(SendBatchTest, ABadDescriptorFailsAloneAndThePeersGo) {
  auto batch = open_batch(64);
  ASSERT_NE(batch, nullptr);
  Connection before = connect_pair(), after = connect_pair();
  Fd closed(::socket(AF_INET, SOCK_STREAM, 0));
  const int gone = closed.get();
  closed.reset();
  const std::string text = "x\n";
  batch->add(before.sender.get(), text.data(), text.size(), &before);
  batch->add(gone, text.data(), text.size(), nullptr);
  batch->add(after.sender.get(), text.data(), text.size(), &after);
  const auto& sent = batch->flush();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].result, 2);
  EXPECT_EQ(sent[1].result, -EBADF);
  EXPECT_EQ(sent[2].result, 2);
  EXPECT_EQ(received(before, text.size()), text);
  EXPECT_EQ(received(after, text.size()), text);
}

TEST(SendBatchTest, APeerThatWentAnswersAnErrorNotASignal) {
  auto batch = open_batch(64);
  ASSERT_NE(batch, nullptr);
  Connection c = connect_pair();
  // A reset (linger 0) so the next send fails at once rather than after a round trip.
  linger hard{1, 0};
  ASSERT_EQ(::setsockopt(c.receiver.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
  c.receiver.reset();
  const std::string text = "x\n";
  long result = 0;
  // The reset reaches the sender's socket asynchronously on some kernels: poll, bounded.
  for (int attempt = 0; attempt < 1000 && result >= 0; ++attempt) {
    batch->add(c.sender.get(), text.data(), text.size(), nullptr);
    result = batch->flush().front().result;
  }
  // MSG_NOSIGNAL: an error, and the test process is still here (no SIGPIPE).
  EXPECT_TRUE(result == -EPIPE || result == -ECONNRESET) << result;
}

TEST(SendBatchTest, AnEmptyFlushSendsNothing) {
  auto batch = open_batch(64);
  ASSERT_NE(batch, nullptr);
  EXPECT_TRUE(batch->empty());
  EXPECT_TRUE(batch->flush().empty());
  EXPECT_EQ(batch->ring_sends(), 0u);
}

}  // namespace
}  // namespace dstack::net
