// SPDX-License-Identifier: Apache-2.0
#include "bench/http_wire.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/net/http.hpp"

namespace dstack::bench {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool parse_hex(std::string_view text, std::size_t& value) {
  text = trim(text.substr(0, text.find(';')));  // chunk extensions are ignored
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

struct Head {
  int status = 0;
  bool chunked = false;
  std::size_t length = 0;  // when not chunked
  std::size_t size = 0;    // bytes of the head, blank line included
};

Parse read_head(std::string_view buf, Head& head) {
  auto end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) return Parse::more;
  head.size = end + 4;
  auto lines = buf.substr(0, end + 2);
  auto eol = lines.find("\r\n");
  auto status_line = lines.substr(0, eol);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") return Parse::bad;
  auto code = status_line.substr(9, 3);
  if (std::from_chars(code.data(), code.data() + 3, head.status).ec != std::errc{})
    return Parse::bad;
  for (auto pos = eol + 2; pos < lines.size();) {
    auto next = lines.find("\r\n", pos);
    auto line = lines.substr(pos, next - pos);
    pos = next + 2;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return Parse::bad;
    auto name = line.substr(0, colon);
    auto value = trim(line.substr(colon + 1));
    if (net::iequals(name, "content-length")) {
      if (std::from_chars(value.data(), value.data() + value.size(), head.length).ec != std::errc{})
        return Parse::bad;
    } else if (net::iequals(name, "transfer-encoding")) {
      head.chunked = net::iequals(value, "chunked");
    }
  }
  return Parse::done;
}

}  // namespace

void append_request(std::string& out, std::string_view method, std::string_view target,
                    std::string_view host, std::string_view body, std::string_view authorization) {
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
  if (!authorization.empty()) out.append("\r\nAuthorization: ").append(authorization);
  out.append("\r\nContent-Type: application/json\r\nContent-Length: ");
  out.append(std::to_string(body.size())).append("\r\n\r\n").append(body);
}

Parse parse_head(std::string_view buf, int& status, bool& chunked, std::size_t& consumed) {
  Head head;
  auto p = read_head(buf, head);
  if (p != Parse::done) return p;
  status = head.status;
  chunked = head.chunked;
  consumed = head.size;
  return Parse::done;
}

Parse parse_response(std::string_view buf, Response& out, std::size_t& consumed) {
  Head head;
  auto p = read_head(buf, head);
  if (p != Parse::done) return p;
  out.status = head.status;
  auto pos = head.size;
  if (!head.chunked) {
    if (buf.size() < pos + head.length) return Parse::more;
    out.body.assign(buf.substr(pos, head.length));
    consumed = pos + head.length;
    return Parse::done;
  }
  out.body.clear();
  for (;;) {
    auto eol = buf.find("\r\n", pos);
    if (eol == std::string_view::npos) return Parse::more;
    std::size_t size = 0;
    if (!parse_hex(buf.substr(pos, eol - pos), size)) return Parse::bad;
    pos = eol + 2;
    if (size == 0) break;
    if (buf.size() < pos + size + 2) return Parse::more;
    out.body.append(buf.substr(pos, size));
    pos += size + 2;
  }
  // Trailers, if any, end with a blank line.
  for (;;) {
    auto eol = buf.find("\r\n", pos);
    if (eol == std::string_view::npos) return Parse::more;
    bool blank = eol == pos;
    pos = eol + 2;
    if (blank) break;
  }
  consumed = pos;
  return Parse::done;
}

bool ChunkedLines::feed(std::string_view data, const OnLine& on_line) {
  while (!data.empty()) {
    switch (state_) {
      case State::size: {
        auto eol = data.find('\n');
        size_line_.append(data.substr(0, eol));
        if (eol == std::string_view::npos) return true;
        data.remove_prefix(eol + 1);
        if (!parse_hex(size_line_, left_)) return false;
        size_line_.clear();
        state_ = left_ == 0 ? State::ended : State::data;
        break;
      }
      case State::data: {
        auto take = data.substr(0, left_);
        left_ -= take.size();
        data.remove_prefix(take.size());
        for (auto nl = take.find('\n'); nl != std::string_view::npos; nl = take.find('\n')) {
          if (line_.empty()) {
            on_line(take.substr(0, nl));
          } else {
            line_.append(take.substr(0, nl));
            on_line(line_);
            line_.clear();
          }
          take.remove_prefix(nl + 1);
        }
        line_.append(take);
        if (left_ == 0) {
          state_ = State::data_crlf;
          left_ = 2;
        }
        break;
      }
      case State::data_crlf: {
        auto take = std::min(left_, data.size());
        left_ -= take;
        data.remove_prefix(take);
        if (left_ == 0) state_ = State::size;
        break;
      }
      case State::ended:
        return true;
    }
  }
  return true;
}

}  // namespace dstack::bench
