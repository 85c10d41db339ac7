// SPDX-License-Identifier: Apache-2.0
#pragma once
// How much the HTTP server reads from a connection at once (http_server.cpp). A client that
// pipelines (a load test, a busy agent) fills every read: reading more at once keeps a batch of
// its requests in one read and their answers in one write, where a request cut in half at the
// end of a read would split both (twice the system calls). A client that sends one request at a
// time stays at the smallest size, which matters with thousands of them connected.
// Pure: the caller reports what each read got.

#include <algorithm>
#include <cstddef>

namespace dstack::net {

class ReadSize {
 public:
  static constexpr std::size_t kMin = 4 << 10;
  static constexpr std::size_t kMax = 64 << 10;

  std::size_t next() const { return size_; }

  // A read that filled what it was given doubles the next; one that got under a quarter of it
  // halves it.
  void got(std::size_t n) {
    if (n >= size_)
      size_ = std::min(size_ * 2, kMax);
    else if (n < size_ / 4)
      size_ = std::max(size_ / 2, kMin);
  }

 private:
  std::size_t size_ = kMin;
};

}  // namespace dstack::net
