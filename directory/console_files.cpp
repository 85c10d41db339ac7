// SPDX-License-Identifier: Apache-2.0
#include "directory/console_files.hpp"

#include <algorithm>

#include "console/assets.hpp"

namespace dstack::directory {

namespace {

// Scripts and styles from this origin only (so no inline script or style element), requests to
// this origin only, no frames, no plugins, no forms posted anywhere: docs/console.md#security.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

net::HttpResponse plain(int status, std::string text) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(text);
  r.headers = {{"Content-Security-Policy", kPolicy}, {"X-Content-Type-Options", "nosniff"}};
  return r;
}

}  // namespace

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
  const bool gzip = net::accepts_gzip(r.accept_encoding);
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
