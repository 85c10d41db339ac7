// SPDX-License-Identifier: Apache-2.0
#include "examples/sample_service.hpp"

#include <nlohmann/json.hpp>

#include "common/core/number.hpp"

namespace dstack::examples {

namespace {

net::HttpResponse text(int status, std::string body) {
  return {status, "text/plain", std::move(body) + "\n"};
}

// The path under the base: "" for BASE itself, "/x" for BASE/x; nullopt when outside it.
std::optional<std::string_view> under_base(std::string_view path, std::string_view base) {
  if (base == "/") return path;
  if (path.substr(0, base.size()) != base) return std::nullopt;
  auto rest = path.substr(base.size());
  if (!rest.empty() && rest.front() != '/') return std::nullopt;  // /emitterx is not /emitter
  return rest;
}

}  // namespace

std::optional<Mode> parse_mode(std::string_view text) {
  for (Mode m : {Mode::ok, Mode::fail, Mode::hang, Mode::slow})
    if (mode_name(m) == text) return m;
  return std::nullopt;
}

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::ok:
      return "ok";
    case Mode::fail:
      return "fail";
    case Mode::hang:
      return "hang";
    case Mode::slow:
      return "slow";
  }
  return "?";
}

SampleService::SampleService(asio::any_io_executor ex, SampleIdentity identity, Answer answer)
    : ex_(ex), identity_(std::move(identity)), answer_(std::move(answer)), mode_changed_(ex) {
  mode_changed_.expires_at(asio::steady_timer::time_point::max());
}

void SampleService::set_mode(Mode mode, Duration delay, double errors) {
  mode_ = mode;
  delay_ = delay;
  errors_ = errors;
  answered_ = 0;
  mode_changed_.cancel();  // held requests look at the new mode
}

awaitable<void> SampleService::misbehave() {
  if (mode_ != Mode::hang && mode_ != Mode::slow) co_return;
  ++held_;
  while (mode_ == Mode::hang) {
    error_code ec;
    auto wait = mode_changed_.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(wait);
  }
  if (mode_ == Mode::slow) {
    asio::steady_timer t(ex_, delay_);
    error_code ec;
    auto wait = t.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(wait);
  }
  --held_;
}

net::HttpResponse SampleService::failing() const {
  nlohmann::json j{{"error", "failing"},
                   {"message", identity_.service + " " + identity_.id + " is in mode fail"}};
  return {503, "application/json", j.dump() + "\n"};
}

bool SampleService::erring() {
  if (errors_ <= 0) return false;
  ++answered_;
  // The n-th answer errs when it takes the count of errors so far to the next whole number.
  const auto before = static_cast<std::uint64_t>(static_cast<double>(answered_ - 1) * errors_);
  const auto now = static_cast<std::uint64_t>(static_cast<double>(answered_) * errors_);
  return now > before;
}

net::HttpResponse SampleService::control(const net::HttpRequest& request) {
  if (request.method == "PUT") {
    auto set = request.query_param("set");
    auto mode = set ? parse_mode(*set) : std::nullopt;
    if (!mode) return text(400, "PUT /mode?set=ok|fail|hang|slow[&delay=DURATION][&errors=R]");
    Duration delay = delay_;
    if (auto d = request.query_param("delay")) {
      auto parsed = parse_duration(*d);
      if (!parsed) return text(400, "delay \"" + *d + "\" is not a duration like 500ms or 2s");
      delay = *parsed;
    }
    double errors = 0;
    if (auto e = request.query_param("errors")) {
      auto parsed = parse_ratio(*e);
      if (!parsed)
        return text(400, "errors \"" + *e + "\" is not a ratio 0..1 or a percent like 2%");
      errors = *parsed;
    }
    set_mode(*mode, delay, errors);
  } else if (request.method != "GET") {
    return text(405, "GET or PUT /mode");
  }
  nlohmann::json j{
      {"mode", mode_name(mode_)},
      {"delay_ms", std::chrono::duration_cast<std::chrono::milliseconds>(delay_).count()},
      {"errors", errors_},
      {"held", held_}};
  return {200, "application/json", j.dump() + "\n"};
}

awaitable<net::HttpResponse> SampleService::handle(net::HttpRequest request) {
  if (request.path == "/mode") co_return control(request);
  auto rest = under_base(request.path, identity_.base);
  if (!rest) co_return text(404, "no " + request.path + " here: this is " + identity_.service);
  if (request.method != "GET" && request.method != "HEAD")
    co_return text(405, identity_.service + " answers GET");
  auto misbehaving = misbehave();
  co_await std::move(misbehaving);
  if (mode_ == Mode::fail) co_return failing();
  if (*rest == "/liveness_check") co_return text(200, "ok");
  if (erring()) {
    nlohmann::json j{{"error", "erring"},
                     {"message", identity_.service + " " + identity_.id +
                                     " answers 503 to a share of requests (errors " +
                                     std::to_string(errors_) + ")"}};
    co_return net::HttpResponse{503, "application/json", j.dump() + "\n"};
  }
  auto answer = answer_(std::move(request), ++count_);
  co_return co_await std::move(answer);
}

}  // namespace dstack::examples
