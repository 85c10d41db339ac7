// SPDX-License-Identifier: Apache-2.0
#pragma once
// `watson maint SERVICE on|off [--reason TEXT]`: asks the running watson, through its local API,
// to drain or restore every instance of SERVICE. Prints what happened; returns the exit code:
// 0 done, 65 refused (unknown service, bad reason), 69 watson not reachable.

#include <string>

#include "common/net/address.hpp"

namespace dstack::watson {

int run_maint(const net::HostPort& api, const std::string& service, bool on,
              const std::string& reason);

}  // namespace dstack::watson
