// SPDX-License-Identifier: Apache-2.0
#include "watson/maint_command.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "common/core/exit_codes.hpp"
#include "common/net/http.hpp"
#include "common/net/http_client.hpp"

namespace dstack::watson {

namespace {

// A member of watson's answer, or nullptr when it is absent or not of the kind asked: the answer
// is read without trusting it (nlohmann's value() throws on a wrong type).
const nlohmann::json* member(const nlohmann::json& body, const char* key,
                             bool (nlohmann::json::*is)() const noexcept) {
  const auto it = body.find(key);
  return it != body.end() && ((*it).*is)() ? &*it : nullptr;
}

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
  using json = nlohmann::json;
  if (r->status == 200) {
    const json* on = body.is_object() ? member(body, "maintenance", &json::is_boolean) : nullptr;
    const json* service = on ? member(body, "service", &json::is_string) : nullptr;
    const json* instances = on ? member(body, "instances", &json::is_number_unsigned) : nullptr;
    if (!on || !service || !instances) {
      std::cerr << "watson maint: " << api.to_string()
                << " answered 200 without service, maintenance and instances: " << r->body << "\n";
      co_return exit_code::unavailable;
    }
    std::cout << service->get<std::string>() << ": maintenance " << (on->get<bool>() ? "on" : "off")
              << " for " << instances->get<std::uint64_t>() << " instance(s)"
              << (on->get<bool>() ? "; each drains, then leaves the directory" : "") << "\n";
    co_return exit_code::ok;
  }
  const json* text = body.is_object() ? member(body, "message", &json::is_string) : nullptr;
  std::string message = text ? text->get<std::string>() : r->body;
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
