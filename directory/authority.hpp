// SPDX-License-Identifier: Apache-2.0
#pragma once
// Authority: who is asking, and may they? It reads the bearer secret of a request, finds its
// token (the bootstrap admin token from token_file, or one in the TokenStore), and checks the
// token's policies against what the request needs (access.hpp). It also creates and revokes
// tokens, and remembers when each was last used. Rules: docs/security.md. No I/O besides the
// token store; the wall clock is injected so expiry is tested without waiting.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/model/policy.hpp"
#include "directory/api_error.hpp"
#include "directory/caller.hpp"
#include "directory/token_store.hpp"

namespace dstack::directory {

struct AuthorityOptions {
  // The SHA-256 digest of token_file's secret (token_secret.hpp). Empty: access control is off
  // and every request is allowed, as before tokens existed.
  std::string admin_digest;
  Anonymous anonymous = Anonymous::read;
};

class Authority {
 public:
  // Seconds since the Unix epoch: token creation and expiry outlive restarts.
  using UnixClock = std::function<std::uint64_t()>;

  Authority(AuthorityOptions options, TokenStore& store, UnixClock now);

  bool enabled() const { return !options_.admin_digest.empty(); }

  // Who is asking, into `caller` as soon as the token is known (so a refusal is audited under
  // its name), and the refusal if any: 401 `unauthorized` for a missing token where one is
  // needed, a malformed Authorization header, or a secret no live token has (unknown, revoked,
  // expired); 403 `forbidden` naming the token and what it lacks. `needed` nullopt: anyone.
  // `authorization` is the request's Authorization field, nullopt when it had none.
  std::optional<ApiError> authorize(const std::optional<std::string>& authorization,
                                    const std::optional<model::Permission>& needed, Caller& caller);
  // Who is asking, into `caller`, with nothing judged: for the audit line of a request answered
  // without a permission check (a malformed path, the health check). Nobody for a token that is
  // not valid.
  void identify(const std::optional<std::string>& authorization, Caller& caller);

  // What is wrong with a token to create, every problem named: the name rule, the reserved
  // name, no policies, the ttl range. A null pointer skips that field (its type was wrong).
  static std::vector<std::string> check_new_token(const std::string* name,
                                                  const std::vector<model::Policy>* policies,
                                                  std::optional<std::int64_t> ttl_seconds);

  struct Created {
    Token token;
    std::string secret;  // shown once: only its digest is kept
  };
  // 400 for an invalid name or TTL, 409 when the name is taken, 503 when the store fails.
  Outcome<Created> create(const std::string& name, std::vector<model::Policy> policies,
                          std::optional<std::int64_t> ttl_seconds);
  // 404 for an unknown name, 503 when the store fails. Effective on the next request.
  Outcome<> revoke(const std::string& name);

  // Whether the token whose key is `key` (Caller::key: its digest) still lets its holder in:
  // false once revoked or expired, and for a token made anew under a revoked one's name, whose
  // key differs. Callers without a stored token (admin, anonymous, access control off) always
  // are.
  bool still_valid(std::string_view key) const;
  // When a token last got a request in, since this process started.
  std::optional<std::uint64_t> last_used(const std::string& name) const;
  const TokenStore& store() const { return store_; }
  std::uint64_t now() const { return now_(); }

 private:
  // Secrets that recently got a request in, and their tokens, so that a host's steady stream of
  // requests costs no SHA-256 each (docs/security.md#token-secrets). Only secrets of stored
  // tokens enter; an entry holds while the store's generation does; at most kMaxRecent.
  struct Recent {
    const Token* token;
    std::uint64_t generation;
    // Its token's entry in last_used_, once it got a request in (erased only by a revocation,
    // which makes a new generation).
    std::uint64_t* last_used = nullptr;
    bool admin = false;  // whether its policies include admin
  };
  // Lookups by a presented secret: compared in constant time, so how much of a secret matches
  // a remembered one does not show in the answer's time.
  // Only stored tokens' secrets enter, and those end in random characters (new_token_secret), so
  // their last eight bytes spread them as well as hashing every byte would, at a tenth of the
  // cost. A presented secret made to collide meets only the few stored ones in its bucket,
  // each compared in constant time.
  struct SecretHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const;
  };
  struct SameSecret {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const;
  };
  static constexpr std::size_t kMaxRecent = 4096;

  AuthorityOptions options_;
  TokenStore& store_;
  UnixClock now_;
  std::unordered_map<std::string, std::uint64_t> last_used_;
  std::unordered_map<std::string, Recent, SecretHash, SameSecret> recent_;
};

}  // namespace dstack::directory
