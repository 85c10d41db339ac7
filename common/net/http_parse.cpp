// SPDX-License-Identifier: Apache-2.0
// The Beast-typed reading steps shared with the socket code (http_beast.hpp), and the same
// reads run on byte strings (http_parse.hpp). Beast's synchronous reads run the same parser
// steps as the asynchronous ones the server and client use.
#include "common/net/http_parse.hpp"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <limits>
#include <system_error>

#include "common/net/http_beast.hpp"
#include "common/net/line_buffer.hpp"

namespace dstack::net {
namespace detail {

namespace beast = boost::beast;

std::string error_json(std::string_view code, std::string_view message) {
  return "{\"error\":\"" + std::string(code) + "\",\"message\":\"" + std::string(message) + "\"}";
}

void limit_request(RequestParser& parser, std::size_t max_header, std::size_t max_body) {
  parser.header_limit(static_cast<std::uint32_t>(max_header));
  parser.body_limit(max_body);
}

void RequestParser::on_field_impl(http::field name, boost::beast::string_view name_string,
                                  boost::beast::string_view value, error_code&) {
  // Trailer fields (after a chunked body) are dropped: no handler reads them, and one named
  // Authorization must not stand in for the header's (RFC 9110 §6.5.1; docs/security.md).
  if (is_header_done()) return;
  // The first of a repeated field counts, as a lookup by name in the fields would find it.
  if (name == http::field::authorization && !authorization) {
    if (buffer_) {
      buffer_->assign(value.data(), value.size());
      authorization = std::move(*buffer_);
    } else {
      authorization.emplace(value.data(), value.size());
    }
  } else if (name == http::field::accept_encoding && !has_accept_encoding_) {
    accept_encoding.assign(value.data(), value.size());
    has_accept_encoding_ = true;
  } else {
    get().insert(name, name_string, value);
  }
}

bool to_request(RequestParser& parser, const std::string& remote, HttpRequest& r,
                HttpResponse& bad) {
  auto& req = parser.get();
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.body = std::move(req.body());
  r.authorization = std::move(parser.authorization);
  r.accept_encoding = std::move(parser.accept_encoding);
  r.remote = remote;
  if (split_target(r.target, r.path, r.query)) return true;
  bad = {400, "application/json",
         error_json("bad_request", "malformed percent-encoding in the query")};
  return false;
}

std::optional<HttpResponse> read_error_answer(const error_code& ec) {
  if (ec == http::error::body_limit)
    return HttpResponse{
        413, "application/json",
        error_json("body_too_large", "request body is larger than the configured max_body")};
  if (ec == http::error::header_limit)
    return HttpResponse{
        431, "application/json",
        error_json("header_too_large", "request header is larger than the configured max_header")};
  if (ec == beast::error::timeout || ec == asio::error::operation_aborted ||
      ec == asio::error::eof || ec == asio::error::connection_reset)
    return std::nullopt;
  return HttpResponse{400, "application/json", error_json("bad_request", "malformed HTTP request")};
}

error_code check_response_size(const ResponseParser& parser, std::size_t max_body) {
  if (parser.content_length().value_or(0) > max_body || parser.get().body().size() > max_body)
    return http::error::body_limit;
  return {};
}

void unlimit_stream(StreamParser& parser) {
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
}

namespace {
std::string describe(const error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  if (ec == http::error::end_of_stream || ec == asio::error::eof)
    return "connection closed without an answer";
  return ec.message();
}
}  // namespace

Error unreachable(const std::string& authority, const std::string& what, const error_code& ec) {
  return Error{ErrorKind::unreachable, "unreachable",
               authority + ": " + what + ": " + describe(ec)};
}

Error line_too_long(const std::string& authority, std::size_t max_line) {
  return Error{ErrorKind::protocol, "line_too_long",
               authority + ": streamed line longer than " + std::to_string(max_line)};
}

Error stream_ended(const std::string& authority) {
  return Error{ErrorKind::unreachable, "stream_ended", authority + ": stream ended"};
}

}  // namespace detail

namespace {

using namespace detail;

// A peer that sent `bytes`, at most `piece` per read, and then closed: a SyncReadStream for
// Beast's synchronous reads.
class BytesStream {
 public:
  BytesStream(std::string_view bytes, std::size_t piece)
      : rest_(bytes), piece_(std::max<std::size_t>(piece, 1)) {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, error_code& ec) {
    if (rest_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    ec = {};
    const std::size_t n =
        asio::buffer_copy(buffers, asio::buffer(rest_.data(), std::min(piece_, rest_.size())));
    rest_.remove_prefix(n);
    return n;
  }
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view rest_;
  std::size_t piece_;
};

const std::string kPeer = "peer";

}  // namespace

// Mirrors the loop of serve() in http_server.cpp, without handlers and streams.
std::vector<ServerRead> read_requests(std::string_view bytes, std::size_t max_header,
                                      std::size_t max_body, std::size_t piece) {
  std::vector<ServerRead> out;
  BytesStream stream(bytes, piece);
  beast::flat_buffer buffer;
  error_code ec;
  for (;;) {
    if (buffer.size() == 0) {
      const std::size_t n = stream.read_some(buffer.prepare(4096), ec);
      if (ec) break;
      buffer.commit(n);
    }
    RequestParser parser;
    limit_request(parser, max_header, max_body);
    ServerRead read;
    http::read_header(stream, buffer, parser, ec);
    if (!ec && parser.get()[http::field::expect] == "100-continue" && !parser.is_done())
      read.continue_sent = true;
    if (!ec && !parser.is_done()) http::read(stream, buffer, parser, ec);
    if (ec == http::error::end_of_stream) break;
    if (ec) {
      read.answer = read_error_answer(ec);
      if (read.answer) out.push_back(std::move(read));
      break;
    }
    const auto& req = parser.get();
    HttpRequest r;
    HttpResponse bad;
    if (to_request(parser, kPeer, r, bad))
      read.request = std::move(r);
    else
      read.answer = std::move(bad);
    read.keep_alive = req.keep_alive();
    read.head = req.method() == http::verb::head;
    out.push_back(std::move(read));
    if (!out.back().keep_alive) break;
  }
  return out;
}

// Mirrors HttpClient::request() in http_client.cpp.
Result<ClientResponse> read_response(std::string_view bytes, std::size_t max_body,
                                     std::size_t piece) {
  BytesStream stream(bytes, piece);
  beast::flat_buffer buffer;
  ResponseParser parser;
  parser.body_limit(max_body);
  error_code ec;
  http::read_header(stream, buffer, parser, ec);
  if (!ec) ec = check_response_size(parser, max_body);
  if (!ec && !parser.is_done()) http::read(stream, buffer, parser, ec);
  if (!ec) ec = check_response_size(parser, max_body);
  if (ec == http::error::body_limit)
    return Error{ErrorKind::protocol, "response_too_large",
                 kPeer + ": response larger than " + std::to_string(max_body)};
  if (ec) return unreachable(kPeer, "GET /", ec);
  auto& res = parser.get();
  return ClientResponse{static_cast<int>(res.result_int()), std::move(res.body())};
}

// Mirrors HttpClient::open_stream() and LineStreamImpl::next_line() in http_client.cpp.
StreamRead read_stream(std::string_view bytes, std::size_t max_line, std::size_t piece) {
  StreamRead out;
  BytesStream stream(bytes, piece);
  beast::flat_buffer buffer;
  StreamParser parser;
  unlimit_stream(parser);
  error_code ec;
  http::read_header(stream, buffer, parser, ec);
  if (ec) {
    out.end = unreachable(kPeer, "GET /", ec);
    return out;
  }
  out.status = static_cast<int>(parser.get().result_int());  // "000" is a status to Beast
  LineBuffer lines(max_line);
  for (;;) {
    std::string line;
    const auto next = lines.next(line, parser.is_done());
    if (next == LineBuffer::Next::line) {
      out.lines.push_back(std::move(line));
      continue;
    }
    if (next == LineBuffer::Next::too_long) {
      out.end = line_too_long(kPeer, max_line);
      return out;
    }
    if (parser.is_done()) {
      out.end = stream_ended(kPeer);
      return out;
    }
    char buf[kStreamReadSize];
    parser.get().body().data = buf;
    parser.get().body().size = sizeof buf;
    http::read_some(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      out.end = unreachable(kPeer, "reading stream", ec);
      return out;
    }
    lines.append(std::string_view(buf, sizeof buf - parser.get().body().size));
  }
}

}  // namespace dstack::net
