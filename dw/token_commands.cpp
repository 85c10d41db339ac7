// SPDX-License-Identifier: Apache-2.0
// dw token create|list|revoke (docs/dw.md#tokens): the directory's /v1/tokens for people.
#include <ctime>
#include <nlohmann/json.hpp>
#include <ostream>

#include "common/core/duration.hpp"
#include "common/core/exit_codes.hpp"
#include "common/model/policy.hpp"
#include "common/model/validate.hpp"
#include "dw/commands.hpp"
#include "dw/table.hpp"

namespace dstack::dw {

using nlohmann::json;

namespace {

// "2026-12-03T07:53:51Z".
std::string utc(std::uint64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

json to_json(const registry::TokenInfo& t) {
  auto time = [](const std::optional<std::uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  return json{{"name", t.name},
              {"policies", t.policies},
              {"created", t.created},
              {"expires", time(t.expires)},
              {"last_used", time(t.last_used)}};
}

}  // namespace

std::variant<std::optional<std::int64_t>, std::string> parse_token_ttl(const std::string& text) {
  if (text.empty()) return std::optional<std::int64_t>{};
  const auto d = parse_duration(text);
  if (!d || *d < std::chrono::seconds(1) || *d % std::chrono::seconds(1) != Duration::zero())
    return "--ttl \"" + model::printable(text) +
           "\" is invalid: must be a whole number of seconds, at least 1s, such as 12h or 30d";
  return std::optional<std::int64_t>{std::chrono::duration_cast<std::chrono::seconds>(*d).count()};
}

awaitable<int> token_create(registry::Registry& reg, Output o, std::string name,
                            std::vector<std::string> policies, std::string ttl_text) {
  std::vector<std::string> problems;
  if (auto p = model::check_token_name(name)) problems.push_back(*p);
  if (auto parsed = model::parse_policies(policies);
      auto* bad = std::get_if<std::vector<std::string>>(&parsed))
    problems.insert(problems.end(), bad->begin(), bad->end());
  auto ttl = parse_token_ttl(ttl_text);
  if (auto* why = std::get_if<std::string>(&ttl)) problems.push_back(*why);
  if (!problems.empty()) co_return refuse(o, problems);
  auto create = reg.create_token(name, policies, std::get<std::optional<std::int64_t>>(ttl));
  auto created = co_await std::move(create);
  if (!created) co_return fail(o, created.error());
  if (o.json) {
    json out = to_json(created->token);
    out["secret"] = created->secret;
    o.out << out.dump(2) << '\n';
    co_return exit_code::ok;
  }
  // The secret alone on stdout, so `dw token create ... > host.token` writes a token file.
  o.out << created->secret << '\n';
  o.err << "dw: token " << created->token.name << " created (" << join(created->token.policies)
        << ", "
        << (created->token.expires ? "expires " + utc(*created->token.expires) : "no expiry")
        << "); its secret is shown only now\n";
  co_return exit_code::ok;
}

awaitable<int> token_list(registry::Registry& reg, Output o) {
  auto fetch = reg.tokens();
  auto tokens = co_await std::move(fetch);
  if (!tokens) co_return fail(o, tokens.error());
  if (o.json) {
    json out = json::array();
    for (const auto& t : *tokens) out.push_back(to_json(t));
    o.out << out.dump(2) << '\n';
    co_return exit_code::ok;
  }
  Table table({"NAME", "POLICIES", "CREATED", "EXPIRES", "LAST USED"});
  for (const auto& t : *tokens)
    table.add({t.name, join(t.policies), utc(t.created), t.expires ? utc(*t.expires) : "never",
               t.last_used ? utc(*t.last_used) : "-"});
  table.print(o.out);
  co_return exit_code::ok;
}

awaitable<int> token_revoke(registry::Registry& reg, Output o, std::string name) {
  if (auto p = model::check_token_name(name)) {
    o.err << "dw: " << *p << '\n';
    co_return exit_code::refused;
  }
  auto revoke = reg.revoke_token(name);
  auto done = co_await std::move(revoke);
  if (!done) co_return fail(o, done.error());
  if (!o.json) o.out << "token " << name << " revoked\n";
  co_return exit_code::ok;
}

}  // namespace dstack::dw
