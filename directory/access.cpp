// SPDX-License-Identifier: Apache-2.0
#include "directory/access.hpp"

#include <initializer_list>

namespace dstack::directory {

using model::Permission;
using Kind = model::Policy::Kind;

std::optional<Permission> required_permission(const std::string& method,
                                              const std::vector<std::string>& parts) {
  const bool get = method == "GET" || method == "HEAD";
  const auto is = [&](std::initializer_list<const char*> expected) {
    if (parts.size() < expected.size()) return false;
    std::size_t i = 0;
    for (const char* e : expected)
      if (parts[i++] != e) return false;
    return true;
  };
  const Permission read{Kind::read, {}};
  const Permission admin{Kind::admin, {}};

  if (parts.size() == 2 && is({"v1", "health"})) return std::nullopt;
  if (parts.size() == 1 && is({"metrics"})) return read;
  if (is({"v1", "tokens"})) return admin;
  // A method the path does not serve needs what its GET needs: the answer is then 405.
  if (get) return read;
  if (is({"v1", "leases"}) && parts.size() <= 3) return Permission{Kind::register_, {}};
  // /v1/services/SVC/instances/ID
  if (is({"v1", "services"}) && parts.size() == 5 && parts[3] == "instances")
    return Permission{Kind::register_, parts[2]};
  // /v1/routes/SVC and /v1/policies/SVC: both say where a service's traffic goes and how
  if ((is({"v1", "routes"}) || is({"v1", "policies"})) && parts.size() == 3)
    return Permission{Kind::routes, parts[2]};
  if (is({"v1", "routes"}) && parts.size() == 4 && parts[3] == "rollback")
    return Permission{Kind::routes, parts[2]};
  // /v1/rollouts/SVC and /v1/rollouts/SVC/{pause|resume|promote|abort}: they set its routes
  if (is({"v1", "rollouts"}) && (parts.size() == 3 || parts.size() == 4))
    return Permission{Kind::routes, parts[2]};
  // /v1/consumers/NAME and /v1/consumers/NAME/traffic: a sherlock's registration and reports
  if (is({"v1", "consumers"}) && (parts.size() == 3 || parts.size() == 4))
    return Permission{Kind::report, {}};
  if ((parts.size() == 2 && (is({"v1", "snapshot"}) || is({"v1", "watch"}) ||
                             is({"v1", "consumers"}) || is({"v1", "traffic"}))) ||
      is({"v1", "services"}) || is({"v1", "routes"}) || is({"v1", "policies"}) ||
      is({"v1", "rollouts"}))
    return read;
  return admin;
}

}  // namespace dstack::directory
