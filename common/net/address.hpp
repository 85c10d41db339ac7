// SPDX-License-Identifier: Apache-2.0
#pragma once
// host:port parsing for listen addresses and peers: "127.0.0.1:7400", "[::1]:7400", "vm101".

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace dstack::net {

struct HostPort {
  std::string host;  // IPv6 without brackets
  std::uint16_t port = 0;
  std::string to_string() const;  // brackets IPv6 again
};

// Either the address or a problem like: "vm101:99999": port must be 1..65535
std::variant<HostPort, std::string> parse_host_port(std::string_view text,
                                                    std::uint16_t default_port);

}  // namespace dstack::net
