// SPDX-License-Identifier: Apache-2.0
#include "sherlock/access_log.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/log/log.hpp"

namespace dstack::sherlock {

AccessLog::AccessLog(std::string target, std::string consumer)
    : target_(std::move(target)), consumer_(std::move(consumer)) {
  out_ = open_target();
  if (!out_)
    throw std::runtime_error("access_log: \"" + target_ +
                             "\": cannot open: " + std::strerror(errno));
}

AccessLog::~AccessLog() {
  if (out_ && out_ != stdout) std::fclose(out_);
}

std::FILE* AccessLog::open_target() const {
  if (target_ == "stdout") return stdout;
  return std::fopen(target_.c_str(), "a");
}

void AccessLog::reopen() {
  if (target_ == "stdout") return;
  std::FILE* next = open_target();
  auto log = log::get("sherlock");
  if (!next) {
    log->error("access_log: \"{}\": cannot reopen: {}; still writing to the old file", target_,
               std::strerror(errno));
    return;
  }
  std::fclose(out_);
  out_ = next;
  log->info("access_log: reopened {}", target_);
}

void AccessLog::write(const RequestRecord& record, std::string_view version) {
  const std::string json = access_log_line(record, consumer_, version);
  if (std::fwrite(json.data(), 1, json.size(), out_) != json.size()) {
    ++counters_.write_errors;
    return;
  }
  ++counters_.lines;
}

void AccessLog::flush() {
  if (std::fflush(out_) != 0) ++counters_.write_errors;
}

}  // namespace dstack::sherlock
