// SPDX-License-Identifier: Apache-2.0
#include "directory/console_files.hpp"

#include <algorithm>
#include <cctype>

#include "console/assets.hpp"

namespace dstack::directory {

namespace {

// Scripts and styles from this origin only (so no inline script or style element), requests to
// this origin only, no frames, no plugins, no forms posted anywhere: docs/console.md#security.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

net::HttpResponse plain(int status, std::string text) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(text);
  r.headers = {{"Content-Security-Policy", kPolicy}, {"X-Content-Type-Options", "nosniff"}};
  return r;
}

}  // namespace

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

std::optional<net::HttpResponse> console_file(const net::HttpRequest& r) {
  const std::string_view path = r.path;
  if (path != "/ui" && !path.starts_with("/ui/")) return std::nullopt;
  if (r.method != "GET") {
    auto answer = plain(405, "the console's files are read with GET\n");
    answer.headers.emplace_back("Allow", "GET");
    return answer;
  }
  // Its files name each other relative to /ui/.
  if (path == "/ui") {
    auto answer = plain(308, "the console is at /ui/\n");
    answer.headers.emplace_back("Location", "/ui/");
    return answer;
  }
  std::string_view name = path.substr(4);
  if (name.empty()) name = "index.html";
  const auto assets = console::all_assets();
  const auto it = std::ranges::find(assets, name, &console::Asset::name);
  if (it == assets.end())
    return plain(404, "no such file in the console: " + std::string(path) + "\n");

  net::HttpResponse answer;
  answer.content_type = std::string(it->content_type);
  const bool gzip = accepts_gzip(r.accept_encoding);
  answer.body = std::string(gzip ? it->gzip : it->body);
  answer.headers = {
      {"Content-Security-Policy", kPolicy},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", it->immutable ? "public, max-age=31536000, immutable" : "no-cache"},
      {"Vary", "Accept-Encoding"},
  };
  if (gzip) answer.headers.emplace_back("Content-Encoding", "gzip");
  return answer;
}

}  // namespace dstack::directory
