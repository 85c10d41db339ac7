// SPDX-License-Identifier: Apache-2.0
#include "common/net/http_client.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/net/http_beast.hpp"
#include "common/net/line_buffer.hpp"

namespace dstack::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::redirect_error;
using detail::unreachable;

namespace {

// The connection, with plain and TLS streams behind one interface.
struct Conn {
  virtual ~Conn() = default;
  virtual awaitable<error_code> connect(tcp::endpoint ep, const std::string& host,
                                        Duration timeout) = 0;
  virtual awaitable<error_code> write(http::request<http::string_body>& req, Duration timeout) = 0;
  virtual awaitable<error_code> read(http::response_parser<http::string_body>& p,
                                     Duration timeout) = 0;
  virtual awaitable<error_code> read_header(http::response_parser<http::buffer_body>& p,
                                            Duration timeout) = 0;
  virtual awaitable<error_code> read_header(http::response_parser<http::string_body>& p,
                                            Duration timeout) = 0;
  virtual awaitable<error_code> read_some(http::response_parser<http::buffer_body>& p,
                                          Duration timeout) = 0;
  virtual void close() = 0;
  beast::flat_buffer buffer;
};

template <class Stream>
struct ConnImpl final : Conn {
  template <class... Args>
  explicit ConnImpl(Args&&... args) : stream(std::forward<Args>(args)...) {}

  awaitable<error_code> connect(tcp::endpoint ep, const std::string& host,
                                Duration timeout) override {
    error_code ec;
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.expires_after(timeout);
    auto tcp_connect = lowest.async_connect(ep, redirect_error(use_awaitable, ec));
    co_await std::move(tcp_connect);
    if (ec) co_return ec;
    lowest.socket().set_option(tcp::no_delay(true), ec);
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()))
        co_return error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
      stream.set_verify_callback(ssl::host_name_verification(host));
      auto handshake =
          stream.async_handshake(ssl::stream_base::client, redirect_error(use_awaitable, ec));
      co_await std::move(handshake);
    }
    co_return ec;
  }
  awaitable<error_code> write(http::request<http::string_body>& req, Duration timeout) override {
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto send = http::async_write(stream, req, redirect_error(use_awaitable, ec));
    co_await std::move(send);
    co_return ec;
  }
  awaitable<error_code> read(http::response_parser<http::string_body>& p,
                             Duration timeout) override {
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto receive = http::async_read(stream, buffer, p, redirect_error(use_awaitable, ec));
    co_await std::move(receive);
    co_return ec;
  }
  awaitable<error_code> read_header(http::response_parser<http::buffer_body>& p,
                                    Duration timeout) override {
    return header_into(p, timeout);
  }
  awaitable<error_code> read_header(http::response_parser<http::string_body>& p,
                                    Duration timeout) override {
    return header_into(p, timeout);
  }
  awaitable<error_code> read_some(http::response_parser<http::buffer_body>& p,
                                  Duration timeout) override {
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(timeout);
    // read_some, not read: a read completes only when the body buffer fills or the message
    // ends, and a stream line must come out as soon as it arrives.
    auto receive = http::async_read_some(stream, buffer, p, redirect_error(use_awaitable, ec));
    co_await std::move(receive);
    if (ec == http::error::need_buffer) ec = {};
    co_return ec;
  }
  void close() override { beast::get_lowest_layer(stream).close(); }

  Stream stream;

 private:
  // The caller awaits at once, so the parser outlives the coroutine.
  template <class Parser>
  awaitable<error_code> header_into(Parser& p, Duration timeout) {
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto receive = http::async_read_header(stream, buffer, p, redirect_error(use_awaitable, ec));
    co_await std::move(receive);
    co_return ec;
  }
};

class LineStreamImpl final : public LineStream {
 public:
  LineStreamImpl(std::unique_ptr<Conn> conn,
                 std::unique_ptr<http::response_parser<http::buffer_body>> p, Duration idle,
                 std::size_t max_line, std::string authority)
      : conn_(std::move(conn)),
        parser_(std::move(p)),
        idle_(idle),
        max_line_(max_line),
        authority_(std::move(authority)),
        lines_(max_line) {}
  ~LineStreamImpl() override { close(); }

  // The same steps as read_stream() (http_parse.hpp), which the fuzz targets run.
  awaitable<Result<std::string>> next_line() override {
    for (;;) {
      std::string line;
      const auto next = lines_.next(line, parser_->is_done());
      if (next == LineBuffer::Next::line) co_return line;
      if (next == LineBuffer::Next::too_long)
        co_return detail::line_too_long(authority_, max_line_);
      if (!conn_ || parser_->is_done()) co_return detail::stream_ended(authority_);
      char buf[detail::kStreamReadSize];
      parser_->get().body().data = buf;
      parser_->get().body().size = sizeof buf;
      auto receive = conn_->read_some(*parser_, idle_);
      auto ec = co_await std::move(receive);
      if (ec) {
        close();
        co_return unreachable(authority_, "reading stream", ec);
      }
      lines_.append(std::string_view(buf, sizeof buf - parser_->get().body().size));
    }
  }
  void close() override {
    if (conn_) conn_->close();
    conn_.reset();
  }

 private:
  std::unique_ptr<Conn> conn_;
  std::unique_ptr<http::response_parser<http::buffer_body>> parser_;
  Duration idle_;
  std::size_t max_line_;
  std::string authority_;
  LineBuffer lines_;
};

}  // namespace

struct HttpClient::Impl {
  asio::any_io_executor ex;
  std::string host;
  std::uint16_t port;
  ClientOptions options;
  std::shared_ptr<ssl::context> tls;
  // The kept-alive connection, when there is one. Shared: a request in flight holds its own
  // reference, so close() from outside (a caller's deadline) cannot free it under the request.
  std::shared_ptr<Conn> conn;

  awaitable<Result<std::unique_ptr<Conn>>> connect(const std::string& authority) {
    error_code ec;
    tcp::endpoint ep;
    auto address = asio::ip::make_address(host, ec);
    if (!ec) {
      ep = tcp::endpoint(address, port);
    } else {
      tcp::resolver resolver(ex);
      auto resolve =
          resolver.async_resolve(host, std::to_string(port), redirect_error(use_awaitable, ec));
      auto results = co_await std::move(resolve);
      if (ec || results.empty()) co_return unreachable(authority, "cannot resolve", ec);
      ep = *results.begin();
    }
    std::unique_ptr<Conn> c;
    if (tls) {
      c = std::make_unique<ConnImpl<beast::ssl_stream<beast::tcp_stream>>>(ex, *tls);
    } else {
      c = std::make_unique<ConnImpl<beast::tcp_stream>>(ex);
    }
    auto conn_connect = c->connect(ep, host, options.connect_timeout);
    ec = co_await std::move(conn_connect);
    if (ec) co_return unreachable(authority, "cannot connect", ec);
    co_return std::move(c);
  }

  http::request<http::string_body> make_request(const std::string& method,
                                                const std::string& target, std::string body,
                                                const std::string& authority) {
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, authority);
    req.set(http::field::user_agent, "dstack");
    if (!options.bearer_token.empty())
      req.set(http::field::authorization, "Bearer " + options.bearer_token);
    for (const auto& [name, value] : options.headers) req.set(name, value);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }
};

HttpClient::HttpClient(asio::any_io_executor ex, std::string host, std::uint16_t port,
                       ClientOptions options)
    : impl_(std::make_unique<Impl>()) {
  authority_ =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  impl_->ex = ex;
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->options = std::move(options);
  if (impl_->options.tls) impl_->tls = make_client_context(*impl_->options.tls);
}

HttpClient::~HttpClient() {
  close();
}

void HttpClient::close() {
  if (impl_->conn) impl_->conn->close();
  impl_->conn.reset();
}

awaitable<Result<ClientResponse>> HttpClient::request(std::string method, std::string target,
                                                      std::string body) {
  auto& im = *impl_;
  // A kept-alive connection may have been closed by the server while idle; then one retry on a
  // fresh connection. A fresh connection that fails is a real failure.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = im.conn != nullptr;
    if (!im.conn) {
      auto connect = im.connect(authority_);
      auto c = co_await std::move(connect);
      if (!c) co_return c.error();
      im.conn = std::move(*c);
    }
    std::shared_ptr<Conn> conn = im.conn;
    auto req = im.make_request(method, target, body, authority_);
    auto write = conn->write(req, im.options.request_timeout);
    auto ec = co_await std::move(write);
    http::response_parser<http::string_body> parser;
    parser.body_limit(im.options.max_body);
    // The same steps as read_response() (http_parse.hpp), which the fuzz targets run.
    if (!ec) {
      auto read_header = conn->read_header(parser, im.options.request_timeout);
      ec = co_await std::move(read_header);
    }
    if (!ec) ec = detail::check_response_size(parser, im.options.max_body);
    if (!ec && !parser.is_done()) {
      auto read = conn->read(parser, im.options.request_timeout);
      ec = co_await std::move(read);
    }
    if (!ec) ec = detail::check_response_size(parser, im.options.max_body);
    if (ec) {
      conn->close();
      if (im.conn == conn) im.conn.reset();
      bool stale = ec == http::error::end_of_stream || ec == asio::error::eof ||
                   ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
      if (reused && stale) continue;
      if (ec == http::error::body_limit)
        co_return Error{
            ErrorKind::protocol, "response_too_large",
            authority_ + ": response larger than " + std::to_string(im.options.max_body)};
      co_return unreachable(authority_, method + " " + target, ec);
    }
    auto& res = parser.get();
    if (!res.keep_alive()) {
      conn->close();
      if (im.conn == conn) im.conn.reset();
    }
    co_return ClientResponse{static_cast<int>(res.result_int()), std::move(res.body())};
  }
  co_return Error{ErrorKind::unreachable, "unreachable", authority_ + ": connection lost"};
}

void HttpClient::set_header(const std::string& name, std::string value) {
  auto& headers = impl_->options.headers;
  std::erase_if(headers, [&](const auto& h) { return beast::iequals(h.first, name); });
  if (!value.empty()) headers.emplace_back(name, std::move(value));
}

awaitable<Result<StreamOpen>> HttpClient::open_stream(std::string target, Duration idle_timeout) {
  return open_stream("GET", std::move(target), {}, idle_timeout);
}

awaitable<Result<StreamOpen>> HttpClient::open_stream(std::string method, std::string target,
                                                      std::string body, Duration idle_timeout) {
  auto& im = *impl_;
  auto connect = im.connect(authority_);
  auto c = co_await std::move(connect);
  if (!c) co_return c.error();
  auto conn = std::move(*c);
  auto req = im.make_request(method, target, std::move(body), authority_);
  auto write = conn->write(req, im.options.request_timeout);
  auto ec = co_await std::move(write);
  auto parser = std::make_unique<http::response_parser<http::buffer_body>>();
  detail::unlimit_stream(*parser);
  if (!ec) {
    auto read_header = conn->read_header(*parser, im.options.request_timeout);
    ec = co_await std::move(read_header);
  }
  if (ec) co_return unreachable(authority_, method + " " + target, ec);
  StreamOpen out;
  out.status = static_cast<int>(parser->get().result_int());
  auto stream = std::make_unique<LineStreamImpl>(std::move(conn), std::move(parser), idle_timeout,
                                                 im.options.max_line, authority_);
  if (out.status == 200) {
    out.stream = std::move(stream);
    co_return out;
  }
  // An error answer is small JSON: read it whole, bounded like any response.
  for (;;) {
    auto next_line = stream->next_line();
    auto line = co_await std::move(next_line);
    if (!line) break;
    out.body += *line;
    out.body += '\n';
    if (out.body.size() > im.options.max_line) break;
  }
  co_return out;
}

}  // namespace dstack::net
