// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal to dstack_net: the Beast-typed steps of reading HTTP that the socket code
// (http_server.cpp, http_client.cpp) and the byte-string readers of http_parse.hpp share, so
// that what is fuzzed is what serves. Only those three files include it: Beast is slow to
// compile.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/core/result.hpp"
#include "common/net/asio.hpp"
#include "common/net/http.hpp"

namespace dstack::net::detail {

namespace http = boost::beast::http;

// Beast's request parser, except that the first Authorization and the first Accept-Encoding field
// are kept apart rather than stored in the message's fields: storing one costs an allocation and an
// insertion in Beast's name-ordered set, and every request with a token carries an Authorization
// field (docs/benchmarks.md#access-controls-cost). Later copies of either go to the fields.
// Fields of a chunked body's trailer are dropped.
class RequestParser : public http::request_parser<http::string_body> {
 public:
  RequestParser() = default;
  // The Authorization field's value is copied into `buffer` and moved out of it, so that the
  // allocation of one request's serves the next on the same connection, which hands it back.
  explicit RequestParser(std::string& buffer) : buffer_(&buffer) {}

  std::optional<std::string> authorization;  // the first Authorization field's value
  std::string accept_encoding;  // the first Accept-Encoding field's value, "" when none came

 private:
  void on_field_impl(http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, error_code& ec) override;

  std::string* buffer_ = nullptr;
  bool has_accept_encoding_ = false;
};

using ResponseParser = http::response_parser<http::string_body>;
using StreamParser = http::response_parser<http::buffer_body>;

// What a streamed body is read in: one read_some's worth.
inline constexpr std::size_t kStreamReadSize = 16384;

// {"error":CODE,"message":MESSAGE}, for the fixed texts of dstack_net only (no escaping).
std::string error_json(std::string_view code, std::string_view message);

// The server's bounds on one request.
void limit_request(RequestParser& parser, std::size_t max_header, std::size_t max_body);

// The request as handlers see it, the parser's body and kept fields moved into it; false (and
// `bad` set) when the target is malformed.
bool to_request(RequestParser& parser, const std::string& remote, HttpRequest& r,
                HttpResponse& bad);

// What the server answers, before closing, to a request it could not read (400, 413, 431);
// nullopt when the client is gone or too slow, so there is no one to answer.
std::optional<HttpResponse> read_error_answer(const error_code& ec);

// Beast 1.74's parser does not hold a response to body_limit (seen in tests), so the client
// checks it: on the announced length before reading the body, and on what arrived after.
// http::error::body_limit when either is over `max_body`.
error_code check_response_size(const ResponseParser& parser, std::size_t max_body);

// The client's errors for a failed read: ErrorKind::unreachable with a message naming
// `authority` and what was being done ("GET /v1/health"); Beast's and Asio's words for the common
// cases are for programmers ("end of stream"), these are read by operators.
Error unreachable(const std::string& authority, const std::string& what, const error_code& ec);
// A streamed line over `max_line` (ErrorKind::protocol), and a stream that ended (unreachable).
Error line_too_long(const std::string& authority, std::size_t max_line);
Error stream_ended(const std::string& authority);

// A streamed answer has no bound as a whole, only on each line. (Beast 1.74 compares a length
// against boost::none as "over the limit", so the largest value stands for none.)
void unlimit_stream(StreamParser& parser);

}  // namespace dstack::net::detail
