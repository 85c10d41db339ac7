// SPDX-License-Identifier: Apache-2.0
#include "common/net/response_text.hpp"

#include <boost/beast/http/status.hpp>

namespace dstack::net::detail {

namespace http = boost::beast::http;

void append_response(std::string& out, const HttpResponse& r, unsigned version, bool keep_alive,
                     bool head) {
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
  out.append(reason.data(), reason.size());
  out += "\r\nServer: dstack\r\nContent-Type: ";
  out += r.content_type;
  for (auto& [k, v] : r.headers) {
    out += "\r\n";
    out += k;
    out += ": ";
    out += v;
  }
  out += "\r\nContent-Length: ";
  out += std::to_string(r.body.size());
  if (!keep_alive)
    out += "\r\nConnection: close";
  else if (version == 10)
    out += "\r\nConnection: keep-alive";
  out += "\r\n\r\n";
  if (!head) out += r.body;
}

}  // namespace dstack::net::detail
