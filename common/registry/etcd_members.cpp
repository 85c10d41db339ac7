// SPDX-License-Identifier: Apache-2.0
#include "common/registry/etcd_members.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/registry/etcd_entries.hpp"

namespace dstack::registry::etcd {

using nlohmann::json;

namespace {

// The most one member may take before the next is asked. Well under a third of a lease TTL, so
// a member that accepts connections but never answers (stopped, overloaded) cannot make a
// watson's keepalive late enough to lose its lease.
constexpr Duration kMemberConnectTimeout = std::chrono::seconds(1);
constexpr Duration kMemberRequestTimeout = std::chrono::seconds(2);

}  // namespace

Failure failure_of(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  Failure f;
  if (!j.is_object()) return f;
  // Unary answers: {"error","message","code"}; streams: {"error":{"grpc_code","message",...}}.
  const json& e = j.contains("error") && j["error"].is_object() ? j["error"] : j;
  if (e.contains("code") && e["code"].is_number_integer()) f.code = e["code"].get<int>();
  if (e.contains("grpc_code") && e["grpc_code"].is_number_integer())
    f.code = e["grpc_code"].get<int>();
  f.message = string_field(e, "message");
  return f;
}

Error etcd_error(int status, const std::string& body, const std::string& authority,
                 const std::string& what) {
  auto f = failure_of(body);
  Error e;
  e.status = status;
  e.code = "etcd_" + std::to_string(f.code);
  e.message = authority + ": " + what + ": " +
              (f.message.empty() ? "answered " + std::to_string(status) : f.message);
  switch (f.code) {
    case kNotFound:
      e.kind = ErrorKind::not_found;
      break;
    case kPermissionDenied:
    case kUnauthenticated:
      e.kind = ErrorKind::unauthorized;
      break;
    case kOutOfRange:
      e.kind = ErrorKind::stale;
      break;
    case kUnavailable:
    case kDeadlineExceeded:
      e.kind = ErrorKind::unreachable;  // this member cannot serve now: try the next one
      break;
    case kResourceExhausted:
      e.kind = ErrorKind::server;  // overloaded or out of space: retry later, the input is fine
      break;
    case kInvalidArgument:
      // etcd says "user name is empty" when auth is on and the request carries no token, and
      // "auth store is old" when roles changed since the token was given (take a new one).
      if (f.message.find("user name is empty") != std::string::npos) {
        e.kind = ErrorKind::unauthorized;
        e.message += " (the cluster requires authentication: a token file holding USER:PASSWORD)";
      } else if (f.message.find("auth store is old") != std::string::npos) {
        e.kind = ErrorKind::unauthorized;
      } else {
        e.kind = ErrorKind::refused;
      }
      break;
    default:
      e.kind = status >= 500 ? ErrorKind::server : ErrorKind::refused;
  }
  return e;
}

Error protocol_error(const std::string& authority, const std::string& what) {
  return Error{ErrorKind::protocol, "bad_response", authority + ": " + what};
}

Members::Members(asio::any_io_executor ex, const DirectoryAddress& address,
                 const ClientSettings& settings)
    : address_(address.to_string()), watch_idle_timeout_(settings.watch_idle_timeout) {
  net::ClientOptions http = settings.http;
  http.bearer_token.clear();
  http.connect_timeout = std::min(http.connect_timeout, kMemberConnectTimeout);
  http.request_timeout = std::min(http.request_timeout, kMemberRequestTimeout);
  if (address.tls && !http.tls) http.tls = net::ClientTls{};
  if (!address.tls) http.tls.reset();
  // Ask etcd to fail a request, and to cancel a watch, when the member has lost its leader:
  // a partitioned member would otherwise serve a watch that never sees another event.
  http.headers.emplace_back("Grpc-Metadata-hasleader", "true");
  for (const auto& ep : address.endpoints)
    members_.push_back({std::make_unique<net::HttpClient>(ex, ep.host, ep.port, http), false});
  if (!settings.token.empty()) {
    auto colon = settings.token.find(':');
    if (colon == std::string::npos || colon == 0)
      throw std::runtime_error(
          "for an etcd directory the token file holds USER:PASSWORD (etcd's user and password)");
    user_ = settings.token.substr(0, colon);
    password_ = settings.token.substr(colon + 1);
  }
}

awaitable<Result<std::unique_ptr<net::LineStream>>> Members::open_watch(std::string body) {
  Error last;
  for (std::size_t tried = 0; tried < members_.size(); ++tried) {
    auto open = open_on(members_[current_], body);
    auto r = co_await std::move(open);
    if (r || r.error().kind != ErrorKind::unreachable) co_return r;
    last = r.error();
    next_member();
  }
  co_return none_answered(last);
}

awaitable<Result<std::unique_ptr<net::LineStream>>> Members::open_on(Member& m, std::string body) {
  for (int attempt = 0;; ++attempt) {
    auto auth = authenticate(m);
    if (auto st = co_await std::move(auth); !st) co_return st.error();
    auto open = m.http->open_stream("POST", "/v3/watch", body, watch_idle_timeout_);
    auto opened = co_await std::move(open);
    if (!opened) co_return opened.error();
    if (opened->status == 200) co_return std::move(opened->stream);
    auto e = etcd_error(opened->status, opened->body, m.http->authority(), "watch");
    if (attempt == 0 && token_rejected(m, e)) continue;
    co_return e;
  }
}

awaitable<Result<json>> Members::call(std::string path, std::string body) {
  Error last;
  for (std::size_t tried = 0; tried < members_.size(); ++tried) {
    auto member_call = call_on(members_[current_], path, body);
    auto r = co_await std::move(member_call);
    if (r || r.error().kind != ErrorKind::unreachable) co_return r;
    last = r.error();
    next_member();
  }
  co_return none_answered(last);
}

awaitable<Result<json>> Members::call_on(Member& m, std::string path, std::string body) {
  for (int attempt = 0;; ++attempt) {
    auto auth = authenticate(m);
    if (auto st = co_await std::move(auth); !st) co_return st.error();
    auto request = m.http->request("POST", path, body);
    auto r = co_await std::move(request);
    if (!r) co_return r.error();
    if (r->status == 200) {
      auto j = json::parse(r->body, nullptr, false);
      if (!j.is_object())
        co_return protocol_error(m.http->authority(), path + ": answer is not JSON");
      co_return j;
    }
    auto e = etcd_error(r->status, r->body, m.http->authority(), path);
    if (attempt == 0 && token_rejected(m, e)) continue;
    co_return e;
  }
}

// A token a member no longer takes (expired, or the member restarted) is taken again once.
bool Members::token_rejected(Member& m, const Error& e) {
  if (user_.empty() || e.kind != ErrorKind::unauthorized) return false;
  m.authenticated = false;
  return true;
}

awaitable<Status> Members::authenticate(Member& m) {
  if (user_.empty() || m.authenticated) co_return Ok{};
  m.http->set_header("Authorization", "");
  json body{{"name", user_}, {"password", password_}};
  auto request = m.http->request("POST", "/v3/auth/authenticate", body.dump());
  auto r = co_await std::move(request);
  if (!r) co_return r.error();
  if (r->status != 200) {
    auto e = etcd_error(r->status, r->body, m.http->authority(), "authenticate as " + user_);
    if (failure_of(r->body).code == kFailedPrecondition) {
      // "authentication is not enabled": the cluster takes requests without a token.
      m.authenticated = true;
      co_return Ok{};
    }
    if (e.kind == ErrorKind::refused) e.kind = ErrorKind::unauthorized;
    co_return e;
  }
  auto token = string_field(json::parse(r->body, nullptr, false), "token");
  if (token.empty())
    co_return protocol_error(m.http->authority(), "authenticate answer lacks a token");
  m.http->set_header("Authorization", token);
  m.authenticated = true;
  co_return Ok{};
}

Error Members::none_answered(Error last) const {
  if (members_.size() > 1)
    last.message = "no member of " + address_ + " answered; last: " + last.message;
  return last;
}

}  // namespace dstack::registry::etcd
