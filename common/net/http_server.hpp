// SPDX-License-Identifier: Apache-2.0
#pragma once
// An HTTP/1.1 server on Beast: keep-alive, a timeout on every wait, bounded headers and bodies,
// a bound on connections, optional TLS, and chunked streams for long-lived responses.
// Handlers run on the io_context thread and return at once; they must not block.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "common/core/duration.hpp"
#include "common/net/asio.hpp"
#include "common/net/http.hpp"
#include "common/net/tls.hpp"

namespace dstack::net {

struct ServerLimits {
  std::size_t max_body = 1 << 20;                    // 413 beyond
  std::size_t max_header = 16 << 10;                 // 431 beyond
  Duration idle_timeout = std::chrono::seconds(60);  // between requests on a kept-alive connection
  Duration request_timeout = std::chrono::seconds(10);  // from a request's first byte to its last
  Duration write_timeout = std::chrono::seconds(10);    // any single write, streams included
  std::size_t max_connections = 10000;                  // beyond: 503 and close
  std::size_t max_stream_buffer = 8 << 20;  // a stream whose unsent data exceeds this is cut
};

struct ServerStats {
  std::uint64_t connections_total = 0;
  std::uint64_t connections_refused = 0;  // over max_connections
  std::uint64_t requests_total = 0;
  std::uint64_t bad_requests = 0;  // unparsable, oversize, timed out mid-request
  std::size_t connections_open = 0;
  std::size_t streams_open = 0;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // For answers that wait on something else (a sample service calling another one). The
  // connection waits for the answer: the handler bounds its own waits.
  using AsyncHandler = std::function<awaitable<HttpResponse>(HttpRequest)>;

  HttpServer(asio::io_context& io, ServerLimits limits, Handler handler,
             std::optional<ServerTls> tls = std::nullopt);
  HttpServer(asio::io_context& io, ServerLimits limits, AsyncHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. Throws std::system_error naming the address when it cannot bind.
  void listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const;
  // Stops accepting and closes every connection.
  void stop();
  const ServerStats& stats() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace dstack::net
