// SPDX-License-Identifier: Apache-2.0
#pragma once
// watson's local API (docs/watson.md#local-api), on `listen` (127.0.0.1:7401 by default):
//   GET /v1/status                    every instance: health, last check, registration per
//   directory GET /metrics                      Prometheus text PUT
//   /v1/maintenance/{service}?enable=true|false[&reason=TEXT]
// Errors are {"error": code, "message": text}, as the directory's. There is no token: the API
// changes only this host's own instances and is meant for loopback.

#include "common/net/http.hpp"
#include "watson/agent.hpp"

namespace dstack::watson {

inline constexpr std::size_t kMaxReasonLength = 256;

class LocalApi {
 public:
  explicit LocalApi(Agent& agent) : agent_(agent) {}
  net::HttpResponse handle(const net::HttpRequest& request);

 private:
  net::HttpResponse maintenance(const net::HttpRequest& request, const std::string& service);
  Agent& agent_;
};

}  // namespace dstack::watson
