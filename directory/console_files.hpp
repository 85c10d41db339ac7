// SPDX-License-Identifier: Apache-2.0
#pragma once
// The web console's files at /ui/ (docs/console.md#how-it-is-served): built into the program,
// the same to every caller (no token needed: they hold no data; the console's own requests to
// the API are checked as any other), under a Content-Security-Policy that lets the page load
// nothing but these files and talk to nothing but this directory.

#include <optional>

#include "common/net/http.hpp"

namespace dstack::directory {

// The answer for /ui and everything under it; nullopt for any other path.
std::optional<net::HttpResponse> console_file(const net::HttpRequest& request);

}  // namespace dstack::directory
