// SPDX-License-Identifier: Apache-2.0
#include "common/model/url.hpp"

#include <arpa/inet.h>

#include <array>
#include <optional>

#include "common/model/validate.hpp"

namespace dstack::model {
namespace {

// HAProxy (before 2.x) cuts config lines at 2048 bytes; a URL well below that leaves room for
// the rest of the line.
constexpr std::size_t kMaxUrl = 1024;
constexpr std::size_t kMaxHost = 253;
constexpr std::size_t kMaxLabel = 63;

bool digit(char c) {
  return c >= '0' && c <= '9';
}
bool hex(char c) {
  return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool alnum(char c) {
  return digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Unreserved and sub-delims of RFC 3986 plus ':', '@', '/' and '%': what a path may hold
// unescaped. Spaces, quotes, '\', '#', '?', control and non-ASCII bytes stay out.
// RFC 3986 path characters without ' and $: HAProxy treats ' as a quote and expands $ inside
// double quotes, and these paths end up in its config. Both can still be sent as %27 and %24.
bool path_char(char c) {
  return alnum(c) || std::string_view("-._~!&()*+,;=:@/%").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// nullopt when valid, else the rule broken.
std::optional<std::string_view> check_ipv4(std::string_view host) {
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = host.find('.', start);
    const std::string_view part = host.substr(start, dot - start);
    ++parts;
    // Leading zeros are refused: some resolvers read them as octal.
    if (part.empty() || part.size() > 3 || (part.size() > 1 && part[0] == '0')) break;
    int value = 0;
    for (char c : part) value = value * 10 + (c - '0');
    if (value > 255) break;
    if (dot == std::string_view::npos) {
      if (parts == 4) return std::nullopt;
      break;
    }
    if (parts == 4) break;
    start = dot + 1;
  }
  return "host is not a valid IPv4 address";
}

std::optional<std::string_view> check_dns_or_ipv4(std::string_view host) {
  if (host.empty()) return "host is missing";
  bool numeric = true;
  for (char c : host) {
    if (!alnum(c) && c != '-' && c != '.') {
      return "host may hold only letters, digits, '-' and '.'";
    }
    if (!digit(c) && c != '.') numeric = false;
  }
  if (host.size() > kMaxHost) return "host is longer than 253 characters";
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    const std::string_view label = host.substr(start, dot - start);
    if (label.empty()) return "host has an empty label (a leading, trailing or doubled '.')";
    if (label.size() > kMaxLabel) return "host labels may be at most 63 characters";
    if (label.front() == '-' || label.back() == '-') {
      return "host labels may not start or end with '-'";
    }
    start = dot + 1;
  }
  // An all-numeric host is read as an address by resolvers, so it must be a proper one.
  if (numeric) return check_ipv4(host);
  return std::nullopt;
}

std::optional<std::string_view> check_ipv6(std::string_view inside) {
  for (char c : inside) {
    if (!hex(c) && c != ':' && c != '.')
      return "IPv6 address may hold only hex digits, ':' and '.'";
  }
  std::array<unsigned char, 16> buffer{};
  const std::string text(inside);
  if (inside.empty() || inet_pton(AF_INET6, text.c_str(), buffer.data()) != 1) {
    return "IPv6 address is not valid";
  }
  return std::nullopt;
}

std::optional<std::string_view> parse_port(std::string_view text, std::uint16_t& port) {
  constexpr std::string_view kRule = "port must be a number from 1 to 65535";
  if (text.empty() || text.size() > 5) return kRule;
  unsigned value = 0;
  for (char c : text) {
    if (!digit(c)) return kRule;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535) return kRule;
  port = static_cast<std::uint16_t>(value);
  return std::nullopt;
}

std::optional<std::string_view> check_path(std::string_view path) {
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (!path_char(path[i])) {
      return "path may hold only letters, digits and -._~!&()*+,;=:@/%";
    }
    if (path[i] == '%' && (i + 2 >= path.size() || !hex(path[i + 1]) || !hex(path[i + 2]))) {
      return "path has a '%' not followed by two hex digits";
    }
  }
  return std::nullopt;
}

// Fills url from text, or returns the rule broken.
std::optional<std::string_view> parse(std::string_view text, InstanceUrl& url) {
  if (text.size() > kMaxUrl) return "must be at most 1024 characters";
  const std::size_t sep = text.find("://");
  if (sep == std::string_view::npos) return "must start with http://, https:// or tcp://";
  const std::string_view scheme = text.substr(0, sep);
  if (scheme != "http" && scheme != "https" && scheme != "tcp") {
    const std::string l = lower(scheme);
    if (l == "http" || l == "https" || l == "tcp") return "scheme must be written in lowercase";
    return "scheme must be http, https or tcp";
  }
  url.scheme = std::string(scheme);

  const std::string_view rest = text.substr(sep + 3);
  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);

  if (authority.find('@') != std::string_view::npos) {
    return "user information (user@host) is not allowed";
  }
  std::string_view host, port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return "IPv6 address is missing its closing ']'";
    host = authority.substr(1, close - 1);
    if (auto rule = check_ipv6(host)) return rule;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "expected ':' and a port after ']'";
      has_port = true;
      port_text = after.substr(1);
    }
    url.ipv6 = true;
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (auto rule = check_dns_or_ipv4(host)) return rule;
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }
  url.host = std::string(host);

  if (has_port) {
    if (auto rule = parse_port(port_text, url.port)) return rule;
  } else if (url.scheme == "http") {
    url.port = 80;
  } else if (url.scheme == "https") {
    url.port = 443;
  } else {
    return "tcp URLs need a port";
  }

  if (auto rule = check_path(path)) return rule;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (url.scheme == "tcp" && !path.empty()) return "tcp URLs may not have a path";
  url.path = std::string(path);
  return std::nullopt;
}

}  // namespace

std::variant<InstanceUrl, std::string> parse_instance_url(std::string_view text,
                                                          std::string_view field) {
  InstanceUrl url;
  if (auto rule = parse(text, url)) return invalid(field, text, *rule);
  return url;
}

}  // namespace dstack::model
