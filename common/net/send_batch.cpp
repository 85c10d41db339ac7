// SPDX-License-Identifier: Apache-2.0
#include "common/net/send_batch.hpp"

#include <liburing.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace dstack::net {

struct SendBatch::Ring {
  io_uring ring{};
  ~Ring() { io_uring_queue_exit(&ring); }
};

std::unique_ptr<SendBatch> SendBatch::open(unsigned entries, std::string& why) {
  io_uring ring{};
  // SUBMIT_ALL (Linux 5.18): a send that cannot start does not keep the ones after it from
  // being submitted. Older kernels refuse the flag; flush() copes without it.
  int r = io_uring_queue_init(entries, &ring, IORING_SETUP_SUBMIT_ALL);
  if (r == -EINVAL) r = io_uring_queue_init(entries, &ring, 0);
  if (r < 0) {
    why = std::string("io_uring: ") + std::strerror(-r);
    return nullptr;
  }
  auto owned = std::make_unique<Ring>();
  owned->ring = ring;
  io_uring_probe* probe = io_uring_get_probe_ring(&owned->ring);
  const bool can_send = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_SEND);
  io_uring_free_probe(probe);
  if (!can_send) {
    why = "io_uring: the kernel has no IORING_OP_SEND (Linux 5.6 or later has)";
    return nullptr;
  }
  return std::unique_ptr<SendBatch>(new SendBatch(std::move(owned)));
}

SendBatch::SendBatch(std::unique_ptr<Ring> ring) : ring_(std::move(ring)) {}
SendBatch::~SendBatch() = default;

void SendBatch::add(int fd, const char* data, std::size_t size, void* tag) {
  if (pending_.empty()) sent_.clear();  // the last flush's answers
  pending_.push_back({fd, data, size});
  sent_.push_back({tag, -ECANCELED});  // until answered
}

const std::vector<SendBatch::Sent>& SendBatch::flush() {
  // sent_ was filled by add(), one entry per pending send, in order; results go in by index.
  if (pending_.empty()) sent_.clear();
  std::size_t next = 0;
  while (ring_ && next < pending_.size()) {
    io_uring* ring = &ring_->ring;
    unsigned queued = 0;
    while (next + queued < pending_.size()) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (sqe == nullptr) break;  // the ring is full: the rest go in the next round
      const Pending& p = pending_[next + queued];
      io_uring_prep_send(sqe, p.fd, p.data, p.size, MSG_DONTWAIT | MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, next + queued);
      ++queued;
    }
    // Without SUBMIT_ALL the kernel stops at a send that cannot start (it still answers for
    // that one): submit again for the rest.
    unsigned submitted = 0;
    while (submitted < queued) {
      const int r = io_uring_submit(ring);
      if (r == -EINTR) continue;
      if (r <= 0) break;
      submitted += static_cast<unsigned>(r);
    }
    // MSG_DONTWAIT: every submitted send has finished by now, so its answer is there to take.
    unsigned answered = 0;
    while (answered < submitted) {
      io_uring_cqe* cqe = nullptr;
      const int r = io_uring_wait_cqe(ring, &cqe);
      if (r == -EINTR || r == -EAGAIN) continue;
      if (r < 0) break;
      sent_[cqe->user_data].result = cqe->res;
      io_uring_cqe_seen(ring, cqe);
      ++answered;
    }
    ring_sends_ += submitted;
    if (submitted < queued || answered < submitted) {
      // The ring failed, which it should never do. Sends it took without answering may or
      // may not have gone (they stay -ECANCELED); the rest go, now and from now on, one at a
      // time.
      next += submitted;
      ring_.reset();
      break;
    }
    next += submitted;
  }
  send_singly(next);
  pending_.clear();
  return sent_;
}

void SendBatch::send_singly(std::size_t first) {
  for (std::size_t i = first; i < pending_.size(); ++i) {
    const Pending& p = pending_[i];
    const ssize_t n = ::send(p.fd, p.data, p.size, MSG_DONTWAIT | MSG_NOSIGNAL);
    sent_[i].result = n >= 0 ? static_cast<long>(n) : -static_cast<long>(errno);
    ++single_sends_;
  }
}

}  // namespace dstack::net
