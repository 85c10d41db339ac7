// SPDX-License-Identifier: Apache-2.0
#include "watson/maint_command.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "common/core/exit_codes.hpp"
#include "common/net/http.hpp"
#include "common/net/http_client.hpp"

namespace dstack::watson {

namespace {

awaitable<int> ask(net::HostPort api, std::string target) {
  net::ClientOptions options;
  options.connect_timeout = std::chrono::seconds(2);
  options.request_timeout = std::chrono::seconds(5);
  options.max_body = 64 << 10;
  net::HttpClient client(co_await asio::this_coro::executor, api.host, api.port, options);
  auto op = client.request("PUT", std::move(target));
  auto r = co_await std::move(op);
  if (!r) {
    std::cerr << "watson maint: cannot reach watson's local API at " << api.to_string() << ": "
              << r.error().message << "\n";
    co_return exit_code::unavailable;
  }
  auto body = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status == 200 && body.is_object()) {
    bool on = body.value("maintenance", false);
    std::cout << body.value("service", std::string()) << ": maintenance " << (on ? "on" : "off")
              << " for " << body.value("instances", 0) << " instance(s)"
              << (on ? "; each drains, then leaves the directory" : "") << "\n";
    co_return exit_code::ok;
  }
  std::string message = body.is_object() ? body.value("message", r->body) : r->body;
  std::cerr << "watson maint: " << message << "\n";
  co_return r->status >= 400 && r->status < 500 ? exit_code::refused : exit_code::unavailable;
}

}  // namespace

int run_maint(const net::HostPort& api, const std::string& service, bool on,
              const std::string& reason) {
  std::string target =
      "/v1/maintenance/" + net::percent_encode(service) + "?enable=" + (on ? "true" : "false");
  if (!reason.empty()) target += "&reason=" + net::percent_encode(reason);
  asio::io_context io(1);
  int code = exit_code::failure;
  asio::co_spawn(io, ask(api, std::move(target)), [&](std::exception_ptr e, int result) {
    if (e) std::rethrow_exception(e);
    code = result;
  });
  io.run();
  return code;
}

}  // namespace dstack::watson
