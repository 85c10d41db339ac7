// SPDX-License-Identifier: Apache-2.0
#pragma once
// HTTP as the server and the client read it, from a byte string instead of a socket: the bytes
// a peer sent before closing, delivered `piece` bytes per read. The same Beast parsers, limits
// and checks as the socket code run (through http_beast.hpp), so tests and the fuzz targets
// (docs/fuzzing.md) exercise what serves. Never throws.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.hpp"
#include "common/net/http.hpp"
#include "common/net/http_client.hpp"

namespace dstack::net {

// One request of a connection as HttpServer reads it: the request a handler would get, or the
// answer the server gives without one.
struct ServerRead {
  std::optional<HttpRequest> request;  // set: a handler is called with it
  std::optional<HttpResponse> answer;  // set: answered as is (400, 413, 431)
  bool keep_alive = false;             // the connection stays open for another request
  bool head = false;                   // a HEAD request: the answer goes without its body
  bool continue_sent = false;          // "100 Continue" went out before the body was read
};

// Every request of a connection, in order, until the server would close it.
std::vector<ServerRead> read_requests(std::string_view bytes, std::size_t max_header,
                                      std::size_t max_body, std::size_t piece);

// The answer to one HttpClient::request(): what it returns, without the retry on a stale
// kept-alive connection. Errors name "peer" where the client names host:port.
Result<ClientResponse> read_response(std::string_view bytes, std::size_t max_body,
                                     std::size_t piece);

// A streamed answer as HttpClient::open_stream() and LineStream::next_line() read it.
struct StreamRead {
  std::optional<int> status;       // nullopt: the header never arrived whole
  std::vector<std::string> lines;  // every line next_line() returned, in order
  Error end;                       // what next_line() failed with at the end
};
StreamRead read_stream(std::string_view bytes, std::size_t max_line, std::size_t piece);

}  // namespace dstack::net
