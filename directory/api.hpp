// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HTTP API of docs/api.md: routing, access checks (Authority), request validation, JSON
// answers, the audit line of every write. Every refusal is {"error": code, "message": text}
// with a fitting status, and a refused request changes nothing.

#include <functional>
#include <string>

#include "common/metrics/writer.hpp"
#include "common/net/http.hpp"
#include "directory/authority.hpp"
#include "directory/consumers.hpp"
#include "directory/rollouts.hpp"
#include "directory/state.hpp"
#include "directory/watchers.hpp"

namespace dstack::directory {

struct ApiOptions {
  std::string name;       // -n, reported by /v1/health
  std::string advertise;  // -a, reported by /v1/health
  // Called once for every request other than a GET or HEAD the API answered, after it was answered,
  // except granted lease keep-alives: the audit trail. `note` says more where the request line
  // does not (the token a POST /v1/tokens created); usually empty.
  std::function<void(const Caller&, const net::HttpRequest&, int status, const std::string& note)>
      audit;
};

// "token NAME", or "a request without a token": who a rollout's reason names.
std::string who(const Caller& caller);

class Api {
 public:
  // `server_metrics` writes the server's own figures (connections, requests) into /metrics.
  Api(ApiOptions options, State& state, Consumers& consumers, Rollouts& rollouts,
      Watchers& watchers, Authority& authority,
      std::function<void(metrics::Writer&)> server_metrics = {});

  net::HttpResponse handle(const net::HttpRequest& request);

 private:
  net::HttpResponse checked(const net::HttpRequest& request, Caller& caller);
  net::HttpResponse route(const net::HttpRequest& request, const std::vector<std::string>& parts,
                          const Caller& caller);
  net::HttpResponse leases(const net::HttpRequest& request, const std::vector<std::string>& parts,
                           const Caller& caller);
  net::HttpResponse instances(const net::HttpRequest& request, const std::string& service,
                              const std::string& id, const Caller& caller);
  net::HttpResponse services(const net::HttpRequest& request, const std::vector<std::string>& parts,
                             const Caller& caller);
  net::HttpResponse routes(const net::HttpRequest& request, const std::vector<std::string>& parts,
                           const Caller& caller);
  // /v1/routes/{svc}/previous and /v1/routes/{svc}/rollback
  net::HttpResponse route_history(const net::HttpRequest& request, const std::string& service,
                                  const std::string& consumer, const std::string& what,
                                  const Caller& caller);
  net::HttpResponse rollouts(const net::HttpRequest& request, const std::vector<std::string>& parts,
                             const Caller& caller);
  net::HttpResponse policies(const net::HttpRequest& request,
                             const std::vector<std::string>& parts);
  net::HttpResponse tokens(const net::HttpRequest& request, const std::vector<std::string>& parts);
  net::HttpResponse consumers(const net::HttpRequest& request,
                              const std::vector<std::string>& parts, const Caller& caller);
  net::HttpResponse traffic(const net::HttpRequest& request, const std::vector<std::string>& parts);
  net::HttpResponse traffic_series(const net::HttpRequest& request);
  net::HttpResponse watch(const net::HttpRequest& request, const Caller& caller);
  net::HttpResponse health() const;
  net::HttpResponse metrics() const;

  ApiOptions options_;
  std::string audit_note_;  // set by a handler for the request being answered
  State& state_;
  Consumers& consumers_;
  Rollouts& rollouts_;
  Watchers& watchers_;
  Authority& authority_;
  std::function<void(metrics::Writer&)> server_metrics_;
};

}  // namespace dstack::directory
