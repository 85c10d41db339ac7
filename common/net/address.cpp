// SPDX-License-Identifier: Apache-2.0
#include "common/net/address.hpp"

#include <cctype>
#include <charconv>

namespace dstack::net {

std::string HostPort::to_string() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::variant<HostPort, std::string> parse_host_port(std::string_view text,
                                                    std::uint16_t default_port) {
  auto quoted = "\"" + std::string(text) + "\"";
  HostPort out;
  std::string_view rest;
  if (text.empty()) return quoted + ": address is empty";
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return quoted + ": missing ']' after IPv6 address";
    out.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return quoted + ": expected ':' after ']'";
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon)
      return quoted + ": IPv6 addresses need brackets, like [::1]:7400";
    out.host = std::string(text.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon);
  }
  if (out.host.empty()) return quoted + ": host is missing";
  for (char c : out.host) {
    bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_';
    if (!ok) return quoted + ": host may hold only letters, digits, '.', '-', '_' and ':'";
  }
  if (rest.empty()) {
    out.port = default_port;
    return out;
  }
  auto digits = rest.substr(1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || value == 0 ||
      value > 65535)
    return quoted + ": port must be 1..65535";
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

}  // namespace dstack::net
