// SPDX-License-Identifier: Apache-2.0
#include "common/model/policy.hpp"

#include <algorithm>

#include "common/model/validate.hpp"

namespace dstack::model {
namespace {

constexpr std::string_view kPolicyRule =
    "must be read, report, admin, register:GLOB or routes:GLOB";
constexpr std::string_view kGlobRule =
    "must match ^[a-z0-9._*-]{1,64}$ (a service name; * stands for any run of characters)";

bool valid_glob(std::string_view glob) {
  if (glob.empty() || glob.size() > 64) return false;
  return std::all_of(glob.begin(), glob.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
           c == '*';
  });
}

std::string_view kind_name(Policy::Kind kind) {
  switch (kind) {
    case Policy::Kind::read:
      return "read";
    case Policy::Kind::register_:
      return "register";
    case Policy::Kind::report:
      return "report";
    case Policy::Kind::routes:
      return "routes";
    case Policy::Kind::admin:
      return "admin";
  }
  return "?";
}

// register and routes name the services they cover; the others cover every service.
bool takes_glob(Policy::Kind kind) {
  return kind == Policy::Kind::register_ || kind == Policy::Kind::routes;
}

std::optional<Policy::Kind> kind_named(std::string_view name) {
  using K = Policy::Kind;
  for (K kind : {K::read, K::register_, K::report, K::routes, K::admin})
    if (kind_name(kind) == name) return kind;
  return std::nullopt;
}

}  // namespace

std::string to_string(const Policy& policy) {
  std::string out(kind_name(policy.kind));
  if (!policy.glob.empty()) out += ":" + policy.glob;
  return out;
}

bool is_lease(const Permission& permission) {
  return permission.kind == Policy::Kind::register_ && permission.service.empty();
}

std::string to_string(const Permission& permission) {
  if (is_lease(permission)) return "register (any service) or report";
  std::string out(kind_name(permission.kind));
  if (!permission.service.empty()) return out + ":" + permission.service;
  if (takes_glob(permission.kind)) out += " (any service)";
  return out;
}

std::variant<Policy, std::string> parse_policy(std::string_view text) {
  const auto colon = text.find(':');
  const auto kind = kind_named(text.substr(0, colon));
  if (!kind) return invalid("policy", text, kPolicyRule);
  const std::string name(kind_name(*kind));
  if (colon == std::string_view::npos) {
    if (!takes_glob(*kind)) return Policy{*kind, {}};
    return invalid("policy", text,
                   "needs the services it covers: " + name + ":GLOB, e.g. " + name +
                       ":emitter or " + name + ":*");
  }
  if (!takes_glob(*kind))
    return invalid("policy", text, name + " covers every service: it takes no GLOB");
  const std::string_view glob = text.substr(colon + 1);
  if (!valid_glob(glob)) return invalid("policy", text, kGlobRule);
  return Policy{*kind, std::string(glob)};
}

std::variant<std::vector<Policy>, std::vector<std::string>> parse_policies(
    const std::vector<std::string>& texts) {
  std::vector<Policy> policies;
  std::vector<std::string> problems;
  if (texts.empty()) problems.push_back("policies: at least one is needed");
  for (const auto& text : texts) {
    auto parsed = parse_policy(text);
    if (auto* problem = std::get_if<std::string>(&parsed)) {
      problems.push_back(std::move(*problem));
      continue;
    }
    auto& policy = std::get<Policy>(parsed);
    if (std::find(policies.begin(), policies.end(), policy) != policies.end()) {
      problems.push_back("policy \"" + printable(text) + "\" is given twice");
      continue;
    }
    policies.push_back(std::move(policy));
  }
  if (!problems.empty()) return problems;
  return policies;
}

bool glob_matches(std::string_view glob, std::string_view name) {
  // Iterative wildcard matching with one backtrack point: linear in practice, never exponential
  // whatever the number of stars.
  std::size_t g = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      resume = n;
    } else if (g < glob.size() && glob[g] == name[n]) {
      ++g;
      ++n;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

bool allows(const std::vector<Policy>& policies, const Permission& needed) {
  return std::any_of(policies.begin(), policies.end(), [&](const Policy& p) {
    if (p.kind == Policy::Kind::admin) return true;
    // A sherlock holds a lease for its consumer registration as a watson does for instances.
    if (is_lease(needed) && p.kind == Policy::Kind::report) return true;
    if (p.kind != needed.kind) return false;
    if (p.glob.empty() || needed.service.empty()) return true;
    return glob_matches(p.glob, needed.service);
  });
}

}  // namespace dstack::model
