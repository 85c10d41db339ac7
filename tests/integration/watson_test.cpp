// SPDX-License-Identifier: Apache-2.0
#include "watson_test.hpp"

#include <iostream>

namespace dstack::test {

std::string http_service(const std::string& name, const TestService& s, const Tuning& t) {
  return "service: " + name + "\nurl: " + s.url("/" + name) + "\n" + t.extra +
         "check:\n  http: " + s.url("/" + name + "/health") + "\n  interval: " + t.interval +
         "\n  timeout: " + t.timeout + "\n  rise: " + std::to_string(t.rise) +
         "\n  fall: " + std::to_string(t.fall) + "\ndrain: " + t.drain + "\n";
}

std::string exec_service(const std::string& name, int port, const std::string& script) {
  // Tests assert on the script's verdict once it is in: a forked shell can still miss 200 ms on a
  // loaded machine.
  return "service: " + name + "\nurl: http://127.0.0.1:" + std::to_string(port) + "/" + name +
         "\ncheck:\n  exec: [/bin/sh, -c, \"" + script +
         "\"]\n  interval: 200ms\n  timeout: 200ms\n  rise: 1\n  fall: 1\ndrain: 0s\n";
}

json instance(const Directory& d, const std::string& service, const std::string& id) {
  auto r = d.get("/v1/services/" + service + "/instances/" + id);
  return r.status == 200 ? body_json(r) : json(nullptr);
}

json next_event(LineStream& s, const std::string& service, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (auto line = s.next_line(deadline - Clock::now())) {
    auto e = json::parse(*line, nullptr, false);
    if (e.is_object() && e.value("service", "") == service) return e;
  }
  return nullptr;
}

void WatsonTest::TearDown() {
  if (!HasFailure()) return;
  for (auto& w : watsons_) {
    auto err = w->stderr_text();
    if (err.size() > 6000) err = "..." + err.substr(err.size() - 6000);
    std::cerr << "watson /v1/status: " << w->status().dump(2) << "\nwatson stderr:\n" << err;
  }
}

Watson& WatsonTest::start(WatsonOptions options) {
  if (options.directories.empty() && options.quick_args.empty())
    options.directories = {url_of(dir_)};
  watsons_.push_back(std::make_unique<Watson>(std::move(options)));
  watsons_.back()->start();
  return *watsons_.back();
}

bool WatsonTest::registered(const std::string& service, const std::string& id,
                            Clock::duration within) {
  return poll_until(
      within, [&] { return !instance(dir_, service, id).is_null(); }, 20ms);
}

bool WatsonTest::gone(const std::string& service, const std::string& id, Clock::duration within) {
  return poll_until(
      within, [&] { return instance(dir_, service, id).is_null(); }, 20ms);
}

}  // namespace dstack::test
