// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the sample services share: an HTTP service under a base path with an instance id, a
// version, a request counter, a liveness check, and a mode an operator or a test switches at any
// moment to make the instance misbehave the way real ones do.
//
//   GET  BASE/liveness_check   200 "ok" (what watson checks)
//   GET  BASE, BASE/...        the service's own answer (the `answer` callback)
//   GET  /mode                 {"mode": "...", "delay_ms": N, "errors": R, "held": N}  (held:
//                              requests waiting on hang or slow now)
//   PUT  /mode?set=MODE[&delay=DURATION][&errors=R]
//
// `errors` (a ratio 0..1, 0 unless given; --errors also takes a percent such as 2%) makes that
// share of the answers 503, evenly spread, while the liveness check passes: a version its checks
// cannot tell is wrong, which only its users' requests show (what a rollout judges,
// docs/rollouts.md).
//
// /mode lies outside the base path, so consumers going through sherlock cannot reach it.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/duration.hpp"
#include "common/net/asio.hpp"
#include "common/net/http.hpp"

namespace dstack::examples {

enum class Mode {
  ok,    // answer
  fail,  // 503 to everything under the base path, liveness check included
  hang,  // read requests and hold them, unanswered, until the mode changes
  slow,  // answer after the delay
};

std::optional<Mode> parse_mode(std::string_view text);
std::string_view mode_name(Mode mode);

struct SampleIdentity {
  std::string service;  // "emitter"
  std::string id;       // this instance's id
  std::string version;  // "1"
  std::string base;     // "/emitter": requests outside it are 404 (but /mode)
};

class SampleService {
 public:
  // The service's answer to a request under its base path; `count` numbers the answers this
  // instance has given (liveness checks not counted).
  using Answer = std::function<awaitable<net::HttpResponse>(net::HttpRequest, std::uint64_t count)>;

  SampleService(asio::any_io_executor ex, SampleIdentity identity, Answer answer);

  void set_mode(Mode mode, Duration delay, double errors = 0);
  Mode mode() const { return mode_; }
  const SampleIdentity& identity() const { return identity_; }

  awaitable<net::HttpResponse> handle(net::HttpRequest request);

 private:
  awaitable<void> misbehave();  // hang or slow down, as the mode says
  net::HttpResponse control(const net::HttpRequest& request);
  net::HttpResponse failing() const;
  bool erring();  // whether this answer is one of the `errors` share

  asio::any_io_executor ex_;
  SampleIdentity identity_;
  Answer answer_;
  Mode mode_ = Mode::ok;
  Duration delay_ = std::chrono::seconds(2);
  double errors_ = 0;
  std::uint64_t answered_ = 0;  // answers given while errors_ applies
  std::uint64_t count_ = 0;
  std::uint64_t held_ = 0;
  asio::steady_timer mode_changed_;  // held requests wait on it; a mode change wakes them
};

}  // namespace dstack::examples
