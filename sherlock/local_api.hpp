// SPDX-License-Identifier: Apache-2.0
#pragma once
// sherlock's local API (docs/sherlock.md#local-api) on 127.0.0.1:7402: GET /v1/status (JSON)
// and GET /metrics (Prometheus text). Read-only: changes go through the directory.

#include "common/net/http_server.hpp"
#include "sherlock/agent.hpp"

namespace dstack::sherlock {

net::HttpResponse handle_local_api(const Agent& agent, const net::HttpRequest& request);

}  // namespace dstack::sherlock
