// SPDX-License-Identifier: Apache-2.0
#pragma once
// The access log (docs/sherlock.md#access-log): each request line HAProxy sends (log_socket.hpp)
// becomes one JSON line (request_log.hpp) in the file access_log names, or on stdout ("stdout",
// for the journal under systemd). SIGUSR1 reopens the file, for logrotate. Lines are written as
// they come and flushed after each batch.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "sherlock/request_log.hpp"

namespace dstack::sherlock {

struct AccessLogCounters {
  std::uint64_t lines = 0;  // written
  std::uint64_t write_errors = 0;
};

class AccessLog {
 public:
  // `target` is a file path or "stdout". Throws std::runtime_error naming the path when it
  // cannot be opened.
  AccessLog(std::string target, std::string consumer);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void write(const RequestRecord& record, std::string_view version);
  void flush();
  // Closes and opens the file again (SIGUSR1); a failure is logged and the old file kept.
  void reopen();

  const std::string& target() const { return target_; }
  const AccessLogCounters& counters() const { return counters_; }

 private:
  std::FILE* open_target() const;

  std::string target_, consumer_;
  std::FILE* out_ = nullptr;
  AccessLogCounters counters_;
};

}  // namespace dstack::sherlock
