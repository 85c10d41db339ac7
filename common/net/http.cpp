// SPDX-License-Identifier: Apache-2.0
#include "common/net/http.hpp"

#include <cctype>
#include <cstdio>

namespace dstack::net {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}
}  // namespace

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
  for (auto& [k, v] : query)
    if (k == name) return v;
  return std::nullopt;
}

StreamSink::Chunk frame_chunk(std::string_view data) {
  char size[20];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string framed;
  framed.reserve(static_cast<std::size_t>(n) + data.size() + 2);
  framed.append(size, static_cast<std::size_t>(n)).append(data).append("\r\n");
  return std::make_shared<const std::string>(std::move(framed));
}

bool split_target(std::string_view target, std::string& path,
                  std::vector<std::pair<std::string, std::string>>& query) {
  auto qmark = target.find('?');
  path = std::string(target.substr(0, qmark));
  query.clear();
  if (qmark == std::string_view::npos) return true;
  std::string_view rest = target.substr(qmark + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key, value;
    if (!decode(pair.substr(0, eq), key, true)) return false;
    if (eq != std::string_view::npos && !decode(pair.substr(eq + 1), value, true)) return false;
    query.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

std::optional<std::vector<std::string>> path_segments(std::string_view raw_path) {
  std::vector<std::string> parts;
  if (!raw_path.empty() && raw_path.front() == '/') raw_path.remove_prefix(1);
  if (!raw_path.empty() && raw_path.back() == '/') raw_path.remove_suffix(1);
  if (raw_path.empty()) return parts;
  for (;;) {
    auto slash = raw_path.find('/');
    std::string segment;
    if (!decode(raw_path.substr(0, slash), segment, false)) return std::nullopt;
    parts.push_back(std::move(segment));
    if (slash == std::string_view::npos) return parts;
    raw_path.remove_prefix(slash + 1);
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool accepts_gzip(std::string_view header) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const auto semi = item.find(';');
    const auto coding = trim(item.substr(0, semi));
    if (!iequals(coding, "gzip") && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    // Only "q=0" (0, 0.0, 0.00, 0.000) refuses.
    auto params = trim(item.substr(semi + 1));
    if (params.size() < 2 || !iequals(params.substr(0, 2), "q=")) return true;
    auto q = params.substr(2);
    return !(q.starts_with('0') && q.find_first_not_of("0.", 0) == std::string_view::npos);
  }
  return false;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace dstack::net
