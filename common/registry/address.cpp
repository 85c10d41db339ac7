// SPDX-License-Identifier: Apache-2.0
#include "common/registry/address.hpp"

#include <cstdlib>

namespace dstack::registry {

std::string DirectoryAddress::to_string() const {
  std::string out =
      kind == Kind::etcd ? (tls ? "etcds://" : "etcd://") : (tls ? "https://" : "http://");
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (i) out += ',';
    out += endpoints[i].to_string();
  }
  if (kind == Kind::etcd) out += prefix;
  return out;
}

std::variant<DirectoryAddress, std::string> parse_directory_address(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return "directory address \"" + std::string(text) + "\" is invalid: " + why;
  };
  DirectoryAddress out;
  std::string_view rest = text;
  std::uint16_t default_port = kDefaultDirectoryPort;
  bool seed_form = false;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    out.tls = true;
  } else if (rest.starts_with("etcd://") || rest.starts_with("etcds://")) {
    out.tls = rest.starts_with("etcds://");
    rest.remove_prefix(out.tls ? 8 : 7);
    out.kind = DirectoryAddress::Kind::etcd;
    default_port = 2379;
  } else if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    seed_form = true;  // //host/anything: the path names the directory, it is not a URL path
  } else if (rest.find("://") != std::string_view::npos) {
    return fail("use http://, https://, etcd://, etcds://, //host or host[:port]");
  }
  auto slash = rest.find('/');
  std::string_view hosts = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (out.kind == DirectoryAddress::Kind::etcd) {
    // Trailing slashes go first, so "//" is no path at all (the default), not the prefix "/".
    while (path.ends_with('/')) path.remove_suffix(1);
    out.prefix = path.empty() ? "/dstack" : std::string(path);
  } else if (!seed_form && !path.empty() && path != "/") {
    return fail("a directory address has no path (did you mean //" + std::string(hosts) +
                std::string(path) + "?)");
  }
  if (hosts.empty()) return fail("host is missing");
  if (hosts.back() == ',' || hosts.front() == ',' || hosts.find(",,") != std::string_view::npos)
    return fail("empty host in the list");
  while (!hosts.empty()) {
    auto comma = hosts.find(',');
    auto one = hosts.substr(0, comma);
    hosts = comma == std::string_view::npos ? std::string_view{} : hosts.substr(comma + 1);
    if (out.kind != DirectoryAddress::Kind::etcd && comma != std::string_view::npos)
      return fail("only etcd:// addresses may list several hosts");
    auto parsed = net::parse_host_port(one, default_port);
    if (auto* why = std::get_if<std::string>(&parsed)) return fail(*why);
    out.endpoints.push_back(std::get<net::HostPort>(parsed));
  }
  return out;
}

std::string choose_directory_address(const std::string& flag, const std::string& from_config) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("DSTACK_DIRECTORY"); env && *env) return env;
  if (!from_config.empty()) return from_config;
  return "http://127.0.0.1:7400";
}

}  // namespace dstack::registry
