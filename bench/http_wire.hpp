// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HTTP/1.1 the load driver speaks, written and parsed by hand so the driver's own cost per
// request stays small and equal for every target. No I/O here.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace dstack::bench {

// Appends one request with a Content-Length body (possibly empty) to `out`; with an
// Authorization header when `authorization` is not empty.
void append_request(std::string& out, std::string_view method, std::string_view target,
                    std::string_view host, std::string_view body = {},
                    std::string_view authorization = {});

struct Response {
  int status = 0;
  std::string body;
};

enum class Parse { done, more, bad };

// Parses one complete response (Content-Length or chunked body) at the front of `buf`. On
// `done`, `out` holds it and `consumed` its length in bytes.
Parse parse_response(std::string_view buf, Response& out, std::size_t& consumed);

// Parses a response head only (for streams). On `done`, `consumed` covers the head and `chunked`
// tells whether the body uses chunked framing.
Parse parse_head(std::string_view buf, int& status, bool& chunked, std::size_t& consumed);

// Turns the body of a chunked stream into lines, whatever the chunk and read boundaries.
class ChunkedLines {
 public:
  using OnLine = std::function<void(std::string_view line)>;
  // Feeds bytes; calls `on_line` for each complete line (without '\n'). False on bad framing.
  bool feed(std::string_view data, const OnLine& on_line);
  bool ended() const { return state_ == State::ended; }

 private:
  enum class State { size, data, data_crlf, ended };
  State state_ = State::size;
  std::string size_line_;
  std::size_t left_ = 0;
  std::string line_;
};

}  // namespace dstack::bench
