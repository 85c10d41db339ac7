// SPDX-License-Identifier: Apache-2.0
#pragma once
// The server's answers as the bytes it writes (http_server.cpp). Answers are serialised by hand
// into one buffer per connection, so the answers to pipelined requests leave in one write
// instead of one system call each. Header names and values come from this codebase, never from
// a client.

#include <string>

#include "common/net/http.hpp"

namespace dstack::net::detail {

// Appends `r` to `out` as HTTP/1.`version % 10` with Content-Length, and Connection as
// `keep_alive` needs it. A HEAD answer has the headers of the GET answer and no body (RFC 9110
// §9.3.2): a body would be read as the start of the next answer.
void append_response(std::string& out, const HttpResponse& r, unsigned version, bool keep_alive,
                     bool head = false);

}  // namespace dstack::net::detail
