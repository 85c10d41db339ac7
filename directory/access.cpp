// SPDX-License-Identifier: Apache-2.0
#include "directory/access.hpp"

#include <string_view>

namespace dstack::directory {

using model::Permission;
using Kind = model::Policy::Kind;

std::optional<Permission> required_permission(const std::string& method,
                                              const std::vector<std::string>& parts) {
  // Asked of every request when access control is on: the path's first two segments are
  // compared once each, the API's own ("v1", what) apart from the rest.
  const Permission read{Kind::read, {}};
  const Permission admin{Kind::admin, {}};
  const std::size_t n = parts.size();
  const bool v1 = n >= 2 && parts[0] == std::string_view("v1");
  const std::string_view what = v1 ? std::string_view(parts[1]) : std::string_view();

  if (v1 && n == 2 && what == "health") return std::nullopt;
  if (n == 1 && parts[0] == std::string_view("metrics")) return read;
  if (what == "tokens") return admin;
  // A method the path does not serve needs what its GET needs: the answer is then 405.
  if (is_read(method)) return read;
  if (!v1) return admin;
  if (what == "leases" && n <= 3) return Permission{Kind::register_, {}};
  // /v1/services/SVC/instances/ID
  if (what == "services" && n == 5 && parts[3] == std::string_view("instances"))
    return Permission{Kind::register_, parts[2]};
  // /v1/routes/SVC and /v1/policies/SVC: both say where a service's traffic goes and how
  if ((what == "routes" || what == "policies") && n == 3) return Permission{Kind::routes, parts[2]};
  if (what == "routes" && n == 4 && parts[3] == std::string_view("rollback"))
    return Permission{Kind::routes, parts[2]};
  // /v1/rollouts/SVC and /v1/rollouts/SVC/{pause|resume|promote|abort}: they set its routes
  if (what == "rollouts" && (n == 3 || n == 4)) return Permission{Kind::routes, parts[2]};
  // /v1/consumers/NAME and /v1/consumers/NAME/traffic: a sherlock's registration and reports
  if (what == "consumers" && (n == 3 || n == 4)) return Permission{Kind::report, {}};
  if ((n == 2 &&
       (what == "snapshot" || what == "watch" || what == "consumers" || what == "traffic")) ||
      what == "services" || what == "routes" || what == "policies" || what == "rollouts")
    return read;
  return admin;
}

}  // namespace dstack::directory
