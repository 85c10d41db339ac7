// SPDX-License-Identifier: Apache-2.0
#include "sherlock/haproxy_cli.hpp"

#include <memory>

#include "common/net/asio.hpp"
// After asio.hpp, which puts <utility> first.
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace dstack::sherlock {
namespace {

using local = asio::local::stream_protocol;

// Bounds what one batch may bring back (a `show servers state` of 10,000 servers is ~1 MB).
constexpr std::size_t kMaxAnswer = 64 << 20;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && s[i] == '\n') ++i;
  return s.substr(i);
}

Error unreachable(const std::string& path, const std::string& why) {
  return Error{ErrorKind::unreachable, "haproxy_cli", "HAProxy socket " + path + ": " + why};
}

// Sends `text`, half-closes, reads to the end; the socket is closed at the deadline.
awaitable<Result<std::string>> exchange(std::string path, std::string text, Duration timeout) {
  auto ex = co_await asio::this_coro::executor;
  auto sock = std::make_shared<local::socket>(ex);
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer deadline(ex);
  deadline.expires_after(timeout);
  deadline.async_wait([sock, timed_out](const error_code& ec) {
    if (ec) return;
    *timed_out = true;
    error_code ignored;
    sock->close(ignored);
  });

  error_code ec;
  auto connect =
      sock->async_connect(local::endpoint(path), asio::redirect_error(use_awaitable, ec));
  co_await std::move(connect);
  if (ec) co_return unreachable(path, *timed_out ? "timed out" : ec.message());
  auto write =
      asio::async_write(*sock, asio::buffer(text), asio::redirect_error(use_awaitable, ec));
  co_await std::move(write);
  if (ec) co_return unreachable(path, *timed_out ? "timed out" : ec.message());
  sock->shutdown(local::socket::shutdown_send, ec);

  std::string answer;
  char buf[16384];
  for (;;) {
    auto read = sock->async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    std::size_t n = co_await std::move(read);
    if (ec == asio::error::eof) break;
    if (ec) co_return unreachable(path, *timed_out ? "timed out" : ec.message());
    if (answer.size() + n > kMaxAnswer) co_return unreachable(path, "answer too large");
    answer.append(buf, n);
  }
  deadline.cancel();
  co_return answer;
}

}  // namespace

std::vector<std::string> split_prompt_answers(const std::string& transcript) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t at = transcript.find("\n> ", start);
    if (at == std::string::npos) break;
    out.push_back(trim(transcript.substr(start, at - start)));
    start = at + 3;
  }
  return out;
}

bool cli_success(const std::string& answer) {
  return answer.empty() || answer == "New server registered." || answer == "Server deleted." ||
         answer.rfind("IP changed from", 0) == 0 ||
         answer.rfind("no need to change the addr", 0) == 0;
}

awaitable<Result<std::vector<std::string>>> cli_batch(std::string socket_path,
                                                      std::vector<std::string> commands,
                                                      Duration timeout) {
  std::string text = "prompt\n";
  for (const auto& c : commands) {
    // Commands are built from validated values; a line break or ';' would start another command.
    if (c.find_first_of("\n\r;") != std::string::npos)
      co_return Error{ErrorKind::protocol, "bad_command",
                      "refusing a CLI command with a line break or ';'"};
    text += c + "\n";
  }
  auto op = exchange(socket_path, std::move(text), timeout);
  auto raw = co_await std::move(op);
  if (!raw) co_return raw.error();
  co_return batch_answers(*raw, commands.size());
}

Result<std::vector<std::string>> batch_answers(const std::string& transcript,
                                               std::size_t commands) {
  // The transcript starts with "\n> " (the answer to `prompt`), then one answer per command,
  // each followed by the next prompt.
  auto answers = split_prompt_answers(transcript);
  if (answers.empty() || answers.size() - 1 != commands)
    return Error{ErrorKind::protocol, "haproxy_cli",
                 "HAProxy answered " + std::to_string(answers.empty() ? 0 : answers.size() - 1) +
                     " of " + std::to_string(commands) + " commands"};
  answers.erase(answers.begin());
  return answers;
}

awaitable<Result<std::string>> cli_command(std::string socket_path, std::string command,
                                           Duration timeout) {
  if (command.find_first_of("\n\r") != std::string::npos)
    co_return Error{ErrorKind::protocol, "bad_command", "refusing a CLI command with a line break"};
  auto op = exchange(std::move(socket_path), command + "\n", timeout);
  co_return co_await std::move(op);
}

}  // namespace dstack::sherlock
