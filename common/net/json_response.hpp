// SPDX-License-Identifier: Apache-2.0
#pragma once
// A JSON answer for the daemons' HTTP APIs. Messages may quote what a client sent (a
// percent-decoded path can hold any byte): invalid UTF-8 is replaced instead of failing the answer.

#include <nlohmann/json.hpp>

#include "common/net/http.hpp"

namespace dstack::net {

// indent -1: one line (the wire API); 2: for people reading a local status page.
inline HttpResponse json_response(int status, const nlohmann::json& body, int indent = -1) {
  return HttpResponse{
      status,
      "application/json",
      body.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
      {},
      {}};
}

}  // namespace dstack::net
