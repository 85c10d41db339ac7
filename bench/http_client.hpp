// SPDX-License-Identifier: Apache-2.0
#pragma once
// A blocking HTTP/1.1 client on one kept-alive loopback connection: one request, one answer.
// For drivers that time single changes, where a request in flight at a time is the point.

#include <string>

#include "bench/http_wire.hpp"

namespace dstack::bench {

using HttpAnswer = Response;  // status 0: the connection failed

class HttpClient {
 public:
  explicit HttpClient(std::string host_port);  // "127.0.0.1:7400"
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Reconnects once when the kept-alive connection was closed.
  HttpAnswer request(const std::string& method, const std::string& target, const std::string& body);
  // The same for one request already on the wire (bench/target.hpp spells them per target).
  HttpAnswer send(const std::string& wire);

 private:
  bool connect();
  HttpAnswer exchange(const std::string& wire);
  std::string host_, port_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace dstack::bench
