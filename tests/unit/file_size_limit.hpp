// SPDX-License-Identifier: Apache-2.0
#pragma once
// A disk that fills up, for one scope: no file of this process may grow past `bytes`, so a write
// that would grow one past it fails (EFBIG) as on a full disk, and the stores' failure paths can
// be tested.

#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <stdexcept>

namespace dstack::test {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(std::uint64_t bytes) {
    // Past the limit the kernel sends SIGXFSZ, which would end the test; ignored, write() fails.
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    if (::getrlimit(RLIMIT_FSIZE, &old_) != 0) throw std::runtime_error("getrlimit failed");
    rlimit limit = old_;
    limit.rlim_cur = bytes;
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) throw std::runtime_error("setrlimit failed");
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  sighandler_t old_handler_ = SIG_DFL;
};

}  // namespace dstack::test
