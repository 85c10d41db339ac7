// SPDX-License-Identifier: Apache-2.0
#include "directory/authority.hpp"

#include <cstring>

#include "common/model/json.hpp"
#include "common/model/validate.hpp"
#include "directory/token_secret.hpp"

namespace dstack::directory {
namespace {

// Ten years: a token meant to last longer is meant to last for ever (no ttl).
constexpr std::int64_t kMaxTtlSeconds = 10LL * 365 * 24 * 3600;

ApiError unauthorized(std::string message) {
  return {401, "unauthorized", std::move(message)};
}

ApiError store_failed(const std::error_code& ec) {
  return {503, "store_failed", "token store: " + ec.message()};
}

}  // namespace

std::size_t Authority::SecretHash::operator()(std::string_view s) const {
  if (s.size() < sizeof(std::uint64_t)) return std::hash<std::string_view>{}(s);
  std::uint64_t tail = 0;
  std::memcpy(&tail, s.data() + s.size() - sizeof tail, sizeof tail);
  return static_cast<std::size_t>((tail ^ s.size()) * 0x9e3779b97f4a7c15ULL);  // 2^64 / phi
}

bool Authority::SameSecret::operator()(std::string_view a, std::string_view b) const {
  // Secrets have no fixed length; that a length differs is all a mismatch may tell.
  return constant_time_equal(a, b);
}

Authority::Authority(AuthorityOptions options, TokenStore& store, UnixClock now)
    : options_(std::move(options)), store_(store), now_(std::move(now)) {}

std::optional<ApiError> Authority::authorize(const std::optional<std::string>& authorization,
                                             const std::optional<model::Permission>& needed,
                                             Caller& caller) {
  caller = {};
  if (!enabled() || !needed) return std::nullopt;
  if (!authorization) {
    if (options_.anonymous == Anonymous::read && needed->kind == model::Policy::Kind::read)
      return std::nullopt;
    return unauthorized("this request needs a token with " + model::to_string(*needed) +
                        ": send Authorization: Bearer SECRET");
  }
  const auto malformed = [] {
    return unauthorized(
        "malformed Authorization header: expected \"Bearer SECRET\", the secret 1 to 4096 "
        "printable ASCII characters without spaces");
  };
  // The secret's bytes are checked only when it is not one remembered: those were checked.
  const auto secret = after_bearer_scheme(*authorization);
  if (!secret) return malformed();
  const Token* token = nullptr;
  Recent* remembered = nullptr;
  if (const auto it = recent_.find(*secret);
      it != recent_.end() && it->second.generation == store_.generation()) {
    remembered = &it->second;
    token = remembered->token;
  } else {
    if (!sendable_secret(*secret)) return malformed();
    const std::string digest = secret_digest(*secret);
    if (same_digest(digest, options_.admin_digest)) {
      caller = {std::string(kAdminName), true, kAdminName};
      return std::nullopt;
    }
    token = store_.find_by_digest(digest);
    if (token) {
      if (recent_.size() >= kMaxRecent) recent_.clear();
      const bool admin = model::allows(token->policies, {model::Policy::Kind::admin, ""});
      remembered = &recent_
                        .insert_or_assign(std::string(*secret),
                                          Recent{token, store_.generation(), nullptr, admin})
                        .first->second;
    }
  }
  const std::uint64_t now = now_();
  // One message for unknown, revoked and expired: a guesser learns nothing from it.
  if (!token || token->expired_at(now))
    return unauthorized("the token is not valid: unknown, revoked or expired");
  if (!remembered->last_used) remembered->last_used = &last_used_[token->name];
  *remembered->last_used = now;
  caller = {token->name, remembered->admin, token->digest};
  if (!model::allows(token->policies, *needed))
    return ApiError{403, "forbidden",
                    "token " + token->name + " lacks " + model::to_string(*needed)};
  return std::nullopt;
}

void Authority::identify(const std::optional<std::string>& authorization, Caller& caller) {
  // Any permission will do: the caller is known before the token's policies are matched.
  (void)authorize(authorization, model::Permission{}, caller);
}

std::vector<std::string> Authority::check_new_token(const std::string* name,
                                                    const std::vector<model::Policy>* policies,
                                                    std::optional<std::int64_t> ttl_seconds) {
  std::vector<std::string> problems;
  if (name) {
    if (auto problem = model::check_token_name(*name))
      problems.push_back(*problem);
    else if (*name == kAdminName)
      problems.push_back("token \"admin\" is reserved: it names the token in token_file");
  }
  if (policies && policies->empty()) problems.push_back("policies: at least one is needed");
  if (ttl_seconds && (*ttl_seconds < 1 || *ttl_seconds > kMaxTtlSeconds))
    problems.push_back("ttl " + std::to_string(*ttl_seconds) + " is out of range 1.." +
                       std::to_string(kMaxTtlSeconds) + " seconds");
  return problems;
}

Outcome<Authority::Created> Authority::create(const std::string& name,
                                              std::vector<model::Policy> policies,
                                              std::optional<std::int64_t> ttl_seconds) {
  if (auto problems = check_new_token(&name, &policies, ttl_seconds); !problems.empty())
    return ApiError{400, "invalid_token", model::join(problems)};
  if (store_.find(name))
    return ApiError{409, "token_exists",
                    "a token named " + name + " exists; revoke it first to replace it"};
  Created created;
  created.secret = new_token_secret();
  created.token.name = name;
  created.token.policies = std::move(policies);
  created.token.digest = secret_digest(created.secret);
  created.token.created = now_();
  if (ttl_seconds) created.token.expires = created.token.created + *ttl_seconds;
  if (const auto ec = store_.put(created.token)) return store_failed(ec);
  return created;
}

Outcome<> Authority::revoke(const std::string& name) {
  if (!store_.find(name)) return ApiError{404, "token_not_found", "no token named " + name};
  if (const auto ec = store_.remove(name)) return store_failed(ec);
  last_used_.erase(name);
  return Done{};
}

bool Authority::still_valid(std::string_view key) const {
  if (key.empty() || key == kAdminName) return true;
  const Token* token = store_.find_by_digest(key);
  return token && !token->expired_at(now_());
}

std::optional<std::uint64_t> Authority::last_used(const std::string& name) const {
  const auto it = last_used_.find(name);
  if (it == last_used_.end()) return std::nullopt;
  return it->second;
}

}  // namespace dstack::directory
