// SPDX-License-Identifier: Apache-2.0
#pragma once
// The members of an etcd cluster, as the etcd backend talks to them through etcd's JSON gateway:
// asked in turn, starting with the one that answered last. A member that cannot be reached, has
// no leader or takes too long is skipped, so only a cluster with no member answering is
// "unreachable". With credentials (USER:PASSWORD) each member gets a token from
// /v3/auth/authenticate, taken again once when a member stops accepting it.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/net/http_client.hpp"
#include "common/registry/address.hpp"
#include "common/registry/directory_client.hpp"

namespace dstack::registry::etcd {

// gRPC status codes etcd's gateway puts in "code".
enum GrpcCode {
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kOutOfRange = 11,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

// What etcd said when it refused: its gRPC code and message (-1 and empty when it said nothing
// readable). Unary answers are {"error","message","code"}; a stream's are
// {"error":{"grpc_code","message",...}}.
struct Failure {
  int code = -1;
  std::string message;
};
Failure failure_of(const std::string& body);

// An answer the gateway refused, as the Error kinds callers act on.
Error etcd_error(int status, const std::string& body, const std::string& authority,
                 const std::string& what);
Error protocol_error(const std::string& authority, const std::string& what);

class Members {
 public:
  // Throws std::runtime_error when `settings.token` is given but is not USER:PASSWORD.
  Members(asio::any_io_executor ex, const DirectoryAddress& address,
          const ClientSettings& settings);

  // POST `path` with `body`; the JSON object answered by the first member that gives one.
  awaitable<Result<nlohmann::json>> call(std::string path, std::string body);
  // A streamed POST /v3/watch with `body`, on the first member that opens one.
  awaitable<Result<std::unique_ptr<net::LineStream>>> open_watch(std::string body);

  void next_member() { current_ = (current_ + 1) % members_.size(); }
  // The member asked now refused its token: take a new one before the next request to it.
  void forget_token() { members_[current_].authenticated = false; }
  const std::string& authority() const { return members_[current_].http->authority(); }

 private:
  struct Member {
    std::unique_ptr<net::HttpClient> http;
    bool authenticated = false;
  };

  awaitable<Result<nlohmann::json>> call_on(Member& m, std::string path, std::string body);
  awaitable<Result<std::unique_ptr<net::LineStream>>> open_on(Member& m, std::string body);
  bool token_rejected(Member& m, const Error& e);
  awaitable<Status> authenticate(Member& m);
  Error none_answered(Error last) const;

  std::string address_;  // for messages
  Duration watch_idle_timeout_;
  std::vector<Member> members_;
  std::size_t current_ = 0;  // the member asked first: the one that answered last
  std::string user_, password_;
};

}  // namespace dstack::registry::etcd
