// SPDX-License-Identifier: Apache-2.0
#pragma once
// An HTTP/1.1 client on Beast: one kept-alive connection per client, a deadline on connect and on
// every request, bounded responses, optional TLS, and line-by-line reading of streamed bodies.
// Not for concurrent use: one request at a time per HttpClient (streams get their own connection).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/core/duration.hpp"
#include "common/core/result.hpp"
#include "common/net/asio.hpp"
#include "common/net/tls.hpp"

namespace dstack::net {

struct ClientOptions {
  Duration connect_timeout = std::chrono::seconds(3);
  Duration request_timeout = std::chrono::seconds(10);
  std::size_t max_body = 64 << 20;
  std::size_t max_line = 4 << 20;  // streamed lines longer than this are a protocol error
  std::string bearer_token;        // sent as Authorization when not empty
  // Sent with every request; etcd's JSON gateway takes its auth token and gRPC metadata so.
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<ClientTls> tls;  // set: https
};

struct ClientResponse {
  int status = 0;
  std::string body;
};

// A streamed response, read line by line (NDJSON).
class LineStream {
 public:
  virtual ~LineStream() = default;
  // The next line without its '\n'. Fails with ErrorKind::unreachable when nothing arrives within
  // the idle timeout or the connection drops, and with ErrorKind::protocol on a line over max_line.
  virtual awaitable<Result<std::string>> next_line() = 0;
  virtual void close() = 0;
};

struct StreamOpen {
  int status = 0;
  std::string body;                    // the whole body when status is not 200
  std::unique_ptr<LineStream> stream;  // set when status is 200
};

class HttpClient {
 public:
  HttpClient(asio::any_io_executor ex, std::string host, std::uint16_t port, ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any HTTP status is a response; only transport problems are errors (ErrorKind::unreachable
  // with a message naming host:port, or ErrorKind::protocol for an unreadable answer).
  awaitable<Result<ClientResponse>> request(std::string method, std::string target,
                                            std::string body = {});
  // A streamed GET on a connection of its own. `idle_timeout` bounds every wait for more data.
  awaitable<Result<StreamOpen>> open_stream(std::string target, Duration idle_timeout);
  // The same for a request with a method and a body (etcd's watch is a POST).
  awaitable<Result<StreamOpen>> open_stream(std::string method, std::string target,
                                            std::string body, Duration idle_timeout);
  // Replaces (or with an empty value removes) a header sent with every later request.
  void set_header(const std::string& name, std::string value);
  void close();

  const std::string& authority() const { return authority_; }  // "host:port", for messages

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::string authority_;
};

}  // namespace dstack::net
