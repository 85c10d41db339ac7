#pragma once
// A blocking HTTP/1.1 client on one kept-alive loopback connection: one request, one answer.
// For drivers that time single changes, where a request in flight at a time is the point.

#include <string>

namespace dstack::bench {

struct HttpAnswer {
  int status = 0;  // 0: the connection failed
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(std::string host_port);  // "127.0.0.1:7400"
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Reconnects once when the kept-alive connection was closed.
  HttpAnswer request(const std::string& method, const std::string& target, const std::string& body);

 private:
  bool connect();
  HttpAnswer exchange(const std::string& wire);
  std::string host_, port_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace dstack::bench
