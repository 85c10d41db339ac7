// SPDX-License-Identifier: Apache-2.0
#include "watson/check_runner.hpp"

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/net/http_client.hpp"

namespace dstack::watson {
namespace {

using asio::redirect_error;

constexpr std::size_t kMaxHttpBody = 64 << 10;

CheckOutcome failed(std::string_view why) {
  return {CheckStatus::critical, bound_output(why)};
}

std::string timed_out(Duration timeout) {
  return "timed out after " + format_duration(timeout);
}

// The outcome of a probe that threw: it must still be a verdict, never an escaping exception.
CheckOutcome from_exception(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return failed(std::string("check failed: ") + x.what());
  } catch (...) {
    return failed("check failed");
  }
}

struct Race {
  explicit Race(asio::any_io_executor ex) : wake(std::move(ex)) {}
  std::optional<CheckOutcome> outcome;
  asio::steady_timer wake;
};

// Runs `work` for at most `limit`. The probes' own timeouts apply per step (connect, write,
// read), so only a deadline over the whole run keeps the promise of run_check. When it passes,
// `abandon` cuts the work short and `on_timeout` is the verdict.
awaitable<CheckOutcome> within(awaitable<CheckOutcome> work, Duration limit,
                               CheckOutcome on_timeout, std::function<void()> abandon) {
  auto ex = co_await asio::this_coro::executor;
  auto race = std::make_shared<Race>(ex);
  race->wake.expires_after(limit);
  asio::co_spawn(ex, std::move(work), [race](std::exception_ptr e, CheckOutcome outcome) {
    race->outcome = e ? from_exception(e) : std::move(outcome);
    race->wake.cancel();
  });
  while (!race->outcome && race->wake.expiry() > asio::steady_timer::clock_type::now()) {
    error_code ec;
    auto wait = race->wake.async_wait(redirect_error(use_awaitable, ec));
    co_await std::move(wait);
  }
  if (race->outcome) co_return std::move(*race->outcome);
  if (abandon) abandon();
  co_return on_timeout;
}

// ---- http ------------------------------------------------------------------------------------

// What an operator should read for the client's transport errors; other errors keep the
// client's own message, which names host:port.
std::string describe_http_error(const Error& error, Duration timeout) {
  if (error.code == "response_too_large") return "body over 64 KiB";
  if (error.message.find("timed out") != std::string::npos) return timed_out(timeout);
  if (error.message.find("refused") != std::string::npos) return "connection refused";
  return error.message;
}

awaitable<CheckOutcome> http_probe(std::shared_ptr<net::HttpClient> client, Check check) {
  auto request = client->request(check.method, check.http_target);
  auto response = co_await std::move(request);
  client->close();
  if (!response) co_return http_failure(describe_http_error(response.error(), check.timeout));
  // The client's own limit is the first line of defence; this one holds whatever it lets by.
  if (response->body.size() > kMaxHttpBody) co_return http_failure("body over 64 KiB");
  co_return evaluate_http(response->status, response->body, check.expect_status, check.expect_body);
}

awaitable<CheckOutcome> run_http(Check check) {
  net::ClientOptions options;
  options.connect_timeout = check.timeout;
  options.request_timeout = check.timeout;
  options.max_body = kMaxHttpBody;
  if (check.http_tls) options.tls = net::ClientTls{};  // the system CAs, verified
  auto ex = co_await asio::this_coro::executor;
  auto client = std::make_shared<net::HttpClient>(ex, check.http_host, check.http_port, options);
  CheckOutcome late = http_failure(timed_out(check.timeout));
  Duration limit = check.timeout;
  // The call is a statement of its own: GCC 12 destroys temporaries made inside a co_await
  // expression twice (a lambda holding a shared_ptr was released twice, caught by ASan).
  std::function<void()> abandon = [client] { client->close(); };
  auto race =
      within(http_probe(client, std::move(check)), limit, std::move(late), std::move(abandon));
  co_return co_await std::move(race);
}

// ---- tcp -------------------------------------------------------------------------------------

struct TcpAttempt {
  explicit TcpAttempt(asio::any_io_executor ex) : resolver(ex), socket(ex) {}
  net::tcp::resolver resolver;
  net::tcp::socket socket;
};

awaitable<CheckOutcome> tcp_probe(std::shared_ptr<TcpAttempt> attempt, std::string host,
                                  std::uint16_t port) {
  error_code ec;
  std::string service = std::to_string(port);
  auto resolve = attempt->resolver.async_resolve(host, service, redirect_error(use_awaitable, ec));
  auto endpoints = co_await std::move(resolve);
  if (ec) co_return evaluate_tcp(false, "cannot resolve " + host + ": " + ec.message());
  ec = asio::error::host_not_found;
  for (const auto& entry : endpoints) {
    error_code close_ec;
    attempt->socket.close(close_ec);
    net::tcp::endpoint endpoint = entry.endpoint();
    auto connect = attempt->socket.async_connect(endpoint, redirect_error(use_awaitable, ec));
    co_await std::move(connect);
    if (!ec) break;
    if (ec == asio::error::operation_aborted) break;  // abandoned at the deadline
  }
  error_code close_ec;
  attempt->socket.close(close_ec);
  if (!ec) co_return evaluate_tcp(true, {});
  if (ec == asio::error::connection_refused) co_return evaluate_tcp(false, "connection refused");
  co_return evaluate_tcp(false, "cannot connect: " + ec.message());
}

awaitable<CheckOutcome> run_tcp(Check check) {
  auto ex = co_await asio::this_coro::executor;
  auto attempt = std::make_shared<TcpAttempt>(ex);
  CheckOutcome late = evaluate_tcp(false, timed_out(check.timeout));
  Duration limit = check.timeout;
  // A statement of its own, not inside co_await: see run_http.
  std::function<void()> abandon = [attempt] {
    error_code ec;
    attempt->resolver.cancel();
    attempt->socket.close(ec);
  };
  auto race = within(tcp_probe(attempt, check.tcp_host, check.tcp_port), limit, std::move(late),
                     std::move(abandon));
  co_return co_await std::move(race);
}

awaitable<CheckOutcome> dispatch(Check check) {
  switch (check.kind) {
    case Check::Kind::http: {
      auto probe = run_http(std::move(check));
      co_return co_await std::move(probe);
    }
    case Check::Kind::tcp: {
      auto probe = run_tcp(std::move(check));
      co_return co_await std::move(probe);
    }
    case Check::Kind::exec: {
      Duration timeout = check.timeout;
      auto probe = run_exec_check(std::move(check.argv), timeout);
      co_return co_await std::move(probe);
    }
    case Check::Kind::none:
      break;
  }
  co_return CheckOutcome{CheckStatus::passing, "no check"};
}

}  // namespace

awaitable<CheckOutcome> run_check(Check check) {
  std::exception_ptr error;
  try {
    auto run = dispatch(std::move(check));
    co_return co_await std::move(run);
  } catch (...) {
    error = std::current_exception();
  }
  co_return from_exception(error);
}

}  // namespace dstack::watson
