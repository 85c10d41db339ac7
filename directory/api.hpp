// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HTTP API of docs/api.md: routing, token checks, request validation, JSON answers.
// Every refusal is {"error": code, "message": text} with a fitting status, and a refused request
// changes nothing.

#include <functional>
#include <string>

#include "common/metrics/writer.hpp"
#include "common/net/http.hpp"
#include "directory/state.hpp"
#include "directory/watchers.hpp"

namespace dstack::directory {

struct ApiOptions {
  std::string token;      // empty: writes need no token
  std::string name;       // -n, reported by /v1/health
  std::string advertise;  // -a, reported by /v1/health
};

class Api {
 public:
  // `server_metrics` writes the server's own figures (connections, requests) into /metrics.
  Api(ApiOptions options, State& state, Watchers& watchers,
      std::function<void(metrics::Writer&)> server_metrics = {});

  net::HttpResponse handle(const net::HttpRequest& request);

 private:
  net::HttpResponse route(const net::HttpRequest& request, const std::vector<std::string>& parts);
  net::HttpResponse leases(const net::HttpRequest& request, const std::vector<std::string>& parts);
  net::HttpResponse instances(const net::HttpRequest& request, const std::string& service,
                              const std::string& id);
  net::HttpResponse services(const net::HttpRequest& request,
                             const std::vector<std::string>& parts);
  net::HttpResponse routes(const net::HttpRequest& request, const std::vector<std::string>& parts);
  net::HttpResponse watch(const net::HttpRequest& request);
  net::HttpResponse health() const;
  net::HttpResponse metrics() const;
  bool authorized(const net::HttpRequest& request) const;

  ApiOptions options_;
  State& state_;
  Watchers& watchers_;
  std::function<void(metrics::Writer&)> server_metrics_;
};

}  // namespace dstack::directory
