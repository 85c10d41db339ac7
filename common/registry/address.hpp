// SPDX-License-Identifier: Apache-2.0
#pragma once
// Directory addresses as users write them (docs/dw.md#directory-address):
//   http(s)://host[:port]   host[:port]   //host[/anything] (= http://host:7400)
//   etcd://host:port[,host:port...][/prefix]   etcds://... (the same over TLS)

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/net/address.hpp"

namespace dstack::registry {

inline constexpr std::uint16_t kDefaultDirectoryPort = 7400;

struct DirectoryAddress {
  enum class Kind { directory, etcd };
  Kind kind = Kind::directory;
  bool tls = false;
  std::vector<net::HostPort> endpoints;  // one for a directory, one or more for etcd
  std::string prefix;                    // etcd key prefix, default "/dstack"
  std::string to_string() const;
};

std::variant<DirectoryAddress, std::string> parse_directory_address(std::string_view text);

// The address to use: the -d flag, else $DSTACK_DIRECTORY, else the config file's, else
// http://127.0.0.1:7400 (docs/dw.md#directory-address). Empty strings count as not given.
std::string choose_directory_address(const std::string& flag, const std::string& from_config);

}  // namespace dstack::registry
