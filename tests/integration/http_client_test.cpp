// SPDX-License-Identifier: Apache-2.0
// The project's HTTP client against the project's server on loopback: limits a peer cannot
// push past.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <vector>

#include "common/net/http_client.hpp"
#include "common/net/http_server.hpp"

namespace dstack::net {
namespace {

awaitable<void> fetch(HttpClient* client, HttpServer* server,
                      std::optional<Result<ClientResponse>>* out) {
  auto call = client->request("GET", "/");
  out->emplace(co_await std::move(call));
  server->stop();
}

Result<ClientResponse> get(std::size_t body_size, std::size_t max_body) {
  asio::io_context io(1);
  HttpServer server(io, ServerLimits{}, [body_size](const HttpRequest&) {
    return HttpResponse{200, "text/plain", std::string(body_size, 'x'), {}, {}};
  });
  server.listen("127.0.0.1", 0);
  ClientOptions options;
  options.max_body = max_body;
  HttpClient client(io.get_executor(), "127.0.0.1", server.port(), options);
  std::optional<Result<ClientResponse>> out;
  asio::co_spawn(io, fetch(&client, &server, &out), asio::detached);
  io.run_for(std::chrono::seconds(10));
  if (!out) return Error{ErrorKind::unreachable, "test", "no answer within 10 s"};
  return *out;
}

TEST(HttpClient, ABodyOverMaxBodyIsRefused) {
  auto r = get(100 << 10, 64 << 10);
  ASSERT_FALSE(r.ok()) << "a 100 KiB body passed a 64 KiB limit";
  EXPECT_EQ(r.error().code, "response_too_large");
}

TEST(HttpClient, ABodyWithinMaxBodyArrivesWhole) {
  auto r = get(60 << 10, 64 << 10);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 60u << 10);
}

// A caller's deadline closes the client while a request waits for an answer (watson's check
// timeout does): the request must end with an error, not touch the connection it lost.
TEST(HttpClient, CloseDuringARequestEndsItCleanly) {
  asio::io_context io(1);
  net::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  net::tcp::socket accepted(io);
  silent.async_accept(accepted, [](error_code) {});  // accepts, then never reads nor answers
  HttpClient client(io.get_executor(), "127.0.0.1", silent.local_endpoint().port(), {});
  std::optional<Result<ClientResponse>> out;
  auto request = [](HttpClient* c, std::optional<Result<ClientResponse>>* o) -> awaitable<void> {
    auto call = c->request("GET", "/");
    o->emplace(co_await std::move(call));
  };
  asio::co_spawn(io, request(&client, &out), asio::detached);
  asio::steady_timer deadline(io, std::chrono::milliseconds(100));
  deadline.async_wait([&](error_code) { client.close(); });
  auto started = std::chrono::steady_clock::now();
  while (!out && std::chrono::steady_clock::now() - started < std::chrono::seconds(5))
    io.run_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(out.has_value()) << "the request did not end after close()";
  EXPECT_FALSE(out->ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

// An async handler's answer may wait (a sample service asking another); the connection waits
// for it, stays usable afterwards, and a handler that throws answers 500.
TEST(HttpServer, AnAsyncHandlersAnswerMayWaitAndTheConnectionGoesOn) {
  asio::io_context io(1);
  HttpServer server(io, ServerLimits{}, [](HttpRequest r) -> awaitable<HttpResponse> {
    if (r.path == "/throw") throw std::runtime_error("the handler failed");
    asio::steady_timer later(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
    auto wait = later.async_wait(use_awaitable);
    co_await std::move(wait);
    co_return HttpResponse{200, "text/plain", "late " + r.path, {}, {}};
  });
  server.listen("127.0.0.1", 0);
  HttpClient client(io.get_executor(), "127.0.0.1", server.port(), {});
  std::vector<Result<ClientResponse>> got;
  auto run = [](HttpClient* c, HttpServer* s,
                std::vector<Result<ClientResponse>>* out) -> awaitable<void> {
    for (const char* target : {"/a", "/throw", "/b"}) {
      auto call = c->request("GET", target);
      out->push_back(co_await std::move(call));
    }
    s->stop();
  };
  auto started = std::chrono::steady_clock::now();
  asio::co_spawn(io, run(&client, &server, &got), asio::detached);
  io.run_for(std::chrono::seconds(10));
  ASSERT_EQ(got.size(), 3u);
  for (auto& r : got) ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(got[0]->body, "late /a");
  EXPECT_EQ(got[1]->status, 500);
  EXPECT_EQ(got[2]->body, "late /b");
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace dstack::net
