// SPDX-License-Identifier: Apache-2.0
#include "common/net/line_buffer.hpp"

#include <utility>

namespace dstack::net {

LineBuffer::Next LineBuffer::next(std::string& line, bool body_done) {
  if (auto nl = pending_.find('\n', start_); nl != std::string::npos) {
    line.assign(pending_, start_, nl - start_);
    start_ = nl + 1;
    return Next::line;
  }
  // No whole line left: what was handed out goes now, once per read rather than once per line
  // (a read of many short lines would otherwise move the rest of the buffer for each).
  pending_.erase(0, start_);
  start_ = 0;
  if (pending_.size() > max_line_) return Next::too_long;
  if (body_done && !pending_.empty()) {
    line = std::exchange(pending_, {});
    return Next::line;
  }
  return Next::need_more;
}

}  // namespace dstack::net
