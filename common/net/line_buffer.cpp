// SPDX-License-Identifier: Apache-2.0
#include "common/net/line_buffer.hpp"

#include <utility>

namespace dstack::net {

LineBuffer::Next LineBuffer::next(std::string& line, bool body_done) {
  if (auto nl = pending_.find('\n'); nl != std::string::npos) {
    line = pending_.substr(0, nl);
    pending_.erase(0, nl + 1);
    return Next::line;
  }
  if (pending_.size() > max_line_) return Next::too_long;
  if (body_done && !pending_.empty()) {
    line = std::exchange(pending_, {});
    return Next::line;
  }
  return Next::need_more;
}

}  // namespace dstack::net
