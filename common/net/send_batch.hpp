// SPDX-License-Identifier: Apache-2.0
#pragma once
// Many small sends to different sockets in one system call: an io_uring submission, which the
// watch stream's fan-out uses to hand one change to every watcher that keeps up
// (docs/directory.md#watch-fan-out). Each send is non-blocking, as send(2) with MSG_DONTWAIT:
// a full socket answers -EAGAIN, never waits. Single-threaded: one batch per thread.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace dstack::net {

class SendBatch {
 public:
  // A batch over an io_uring with room for `entries` sends per system call (more are sent in
  // several). nullptr when the kernel refuses one (older than 5.6, io_uring disabled by
  // sysctl, a seccomp filter); `why` then says what it answered.
  static std::unique_ptr<SendBatch> open(unsigned entries, std::string& why);
  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  // Adds a send of `size` bytes at `data` to socket `fd`, made at the next flush(). The bytes
  // must stay valid until then; `tag` comes back with the send's result.
  void add(int fd, const char* data, std::size_t size, void* tag);
  bool empty() const { return pending_.empty(); }

  // What became of one send: bytes sent (possibly fewer than asked), or -errno as send(2)
  // would have set it (-EAGAIN: the socket's buffer is full). -ECANCELED: the ring failed after
  // taking the send, so whether any of it went is unknown; the stream cannot go on.
  struct Sent {
    void* tag;
    long result;
  };
  // Makes every send added since the last flush, in the order added, and returns their
  // results in that order (valid until the next add).
  const std::vector<Sent>& flush();

  // Sends made through io_uring so far, and one at a time because the ring failed (after
  // which every send goes one at a time).
  std::size_t ring_sends() const { return ring_sends_; }
  std::size_t single_sends() const { return single_sends_; }

 private:
  struct Ring;
  explicit SendBatch(std::unique_ptr<Ring> ring);
  // Sends pending_[first..] one send(2) at a time.
  void send_singly(std::size_t first);

  struct Pending {
    int fd;
    const char* data;
    std::size_t size;
  };
  std::unique_ptr<Ring> ring_;
  std::vector<Pending> pending_;
  std::vector<Sent> sent_;
  std::size_t ring_sends_ = 0;
  std::size_t single_sends_ = 0;
};

}  // namespace dstack::net
