// SPDX-License-Identifier: Apache-2.0
#pragma once
// Instance URLs (docs/api.md#names-and-values): http://, https:// or tcp:// host[:port][/path].
// Host is a DNS name, an IPv4 address or a bracketed IPv6 address; path characters are limited
// to what a URL path may hold unescaped, so the value is safe to place in an HAProxy config.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace dstack::model {

struct InstanceUrl {
  std::string scheme;      // "http", "https" or "tcp"
  std::string host;        // without brackets for IPv6
  std::uint16_t port = 0;  // defaulted: http 80, https 443; tcp requires one
  std::string path;        // "" or starts with '/'; trailing '/' stripped, so "/" becomes ""
  bool ipv6 = false;
};

// Either the parsed URL or a message: url "ftp://x" is invalid: scheme must be http, https or tcp
std::variant<InstanceUrl, std::string> parse_instance_url(std::string_view text,
                                                          std::string_view field = "url");

}  // namespace dstack::model
