// SPDX-License-Identifier: Apache-2.0
#include "common/model/traffic_policy.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/core/duration.hpp"
#include "common/model/json_fields.hpp"
#include "common/model/validate.hpp"

namespace dstack::model {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::string_view kBalanceRule =
    "must be roundrobin, leastconn, hash:header:NAME or hash:cookie:NAME";
constexpr std::string_view kEjectRule = "must be 5xx:N, N consecutive 5xx answers (1..1000)";

bool in(char c, std::string_view set) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         set.find(c) != std::string_view::npos;
}

// Header names are HTTP tokens; these two patterns are narrower still, so that a name is one
// plain word wherever HAProxy's config reads it.
std::optional<std::string> check_name(const Balance& b, std::string_view field) {
  const bool header = b.kind == Balance::Kind::header;
  const std::string_view extra = header ? "-" : "_-";
  const bool ok = !b.name.empty() && b.name.size() <= 64 &&
                  std::all_of(b.name.begin(), b.name.end(), [&](char c) { return in(c, extra); });
  if (ok) return std::nullopt;
  return invalid(field, to_string(b),
                 header ? "the header name must match ^[A-Za-z0-9-]{1,64}$"
                        : "the cookie name must match ^[A-Za-z0-9_-]{1,64}$");
}

std::optional<std::string> check_duration(std::chrono::milliseconds d, std::chrono::milliseconds lo,
                                          std::string_view field) {
  if (d >= lo && d <= 1h) return std::nullopt;
  return invalid(field, format_duration(d), "must be " + format_duration(lo) + "..1h");
}

// "5s" from the body: a duration, or a problem.
// A string member in one of the forms `parse` reads (parse_eject, parse_balance), or its problem.
template <class Parse>
auto read_parsed(detail::Fields& f, std::string_view key, Parse parse)
    -> std::optional<std::variant_alternative_t<0, decltype(parse(std::string_view()))>> {
  auto text = f.string(key, false);
  if (!text) return std::nullopt;
  auto parsed = parse(*text);
  if (auto* problem = std::get_if<std::string>(&parsed)) {
    f.add(*problem);
    return std::nullopt;
  }
  return std::get<0>(parsed);
}

// Every field of `out` from `body`; `strict` refuses unknown keys (a request), a reader lets a
// newer directory add some.
void read_fields(detail::Fields& f, TrafficPolicy& out, bool strict) {
  // A request's service and revision are the path's and the directory's: not keys of its body.
  if (strict)
    f.refuse_unknown(
        {"retries", "retry_on", "timeout", "max_conn", "queue_timeout", "eject", "balance"});
  out.retries = f.integer("retries", false, 0, 10);
  if (const json* list = f.member("retry_on", false)) {
    if (!list->is_array()) {
      f.wrong_type(f.name("retry_on"), "an array", *list);
    } else {
      for (std::size_t i = 0; i < list->size(); ++i) {
        const json& word = (*list)[i];
        if (!word.is_string()) {
          f.wrong_type(f.name("retry_on[" + std::to_string(i) + "]"), "a string", word);
          continue;
        }
        out.retry_on.push_back(word.get<std::string>());
      }
    }
  }
  out.timeout = f.duration("timeout", false);
  out.max_conn = f.integer("max_conn", false, 1, 100000);
  out.queue_timeout = f.duration("queue_timeout", false);
  out.eject_5xx = read_parsed(f, "eject", parse_eject);
  out.balance = read_parsed(f, "balance", parse_balance);
}

}  // namespace

std::string to_string(const Balance& balance) {
  switch (balance.kind) {
    case Balance::Kind::roundrobin:
      return "roundrobin";
    case Balance::Kind::leastconn:
      return "leastconn";
    case Balance::Kind::header:
      return "hash:header:" + balance.name;
    case Balance::Kind::cookie:
      return "hash:cookie:" + balance.name;
  }
  return "unknown";
}

std::variant<Balance, std::string> parse_balance(std::string_view text) {
  Balance b;
  if (text == "roundrobin") return b;
  if (text == "leastconn") return Balance{Balance::Kind::leastconn, ""};
  for (auto [prefix, kind] : {std::pair{std::string_view("hash:header:"), Balance::Kind::header},
                              std::pair{std::string_view("hash:cookie:"), Balance::Kind::cookie}}) {
    if (!text.starts_with(prefix)) continue;
    b = {kind, std::string(text.substr(prefix.size()))};
    if (auto problem = check_name(b, "balance")) return *problem;
    return b;
  }
  return invalid("balance", text, kBalanceRule);
}

std::variant<int, std::string> parse_eject(std::string_view text) {
  const std::string_view digits = text.starts_with("5xx:") ? text.substr(4) : std::string_view();
  // One spelling per number: no leading zeros.
  if (digits.empty() || digits.size() > 4 || digits.front() == '0' ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return invalid("eject", text, kEjectRule);
  const int n = std::stoi(std::string(digits));
  if (n < 1 || n > 1000) return invalid("eject", text, kEjectRule);
  return n;
}

std::vector<std::string> validate_traffic_policy(const TrafficPolicy& p) {
  std::vector<std::string> problems;
  const auto add = [&](std::optional<std::string> problem) {
    if (problem) problems.push_back(std::move(*problem));
  };
  add(check_service_name(p.service));
  for (const auto& why : p.unreadable) problems.push_back("could not be read: " + why);
  if (p.retries) add(check_range(*p.retries, 0, 10, "retries"));
  // Past the number of words, checking each would only turn a huge input into a huge answer.
  if (auto many = check_count(p.retry_on.size(), std::size(kRetryOn), "retry_on")) {
    problems.push_back(std::move(*many));
  } else {
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < p.retry_on.size(); ++i) {
      const std::string field = "retry_on[" + std::to_string(i) + "]";
      const auto& word = p.retry_on[i];
      if (std::find(std::begin(kRetryOn), std::end(kRetryOn), word) == std::end(kRetryOn))
        problems.push_back(invalid(field, word,
                                   "must be one of conn-failure, empty-response, junk-response, "
                                   "response-timeout, 404, 408, 425, 500, 501, 502, 503, 504"));
      else if (!seen.insert(word).second)
        problems.push_back(invalid(field, word, "is listed twice"));
    }
  }
  if (p.retries == 0 && !p.retry_on.empty())
    problems.push_back("retry_on: needs retries of at least 1 (retries is 0)");
  if (p.timeout) add(check_duration(*p.timeout, 1ms, "timeout"));
  if (p.max_conn) add(check_range(*p.max_conn, 1, 100000, "max_conn"));
  if (p.queue_timeout) {
    add(check_duration(*p.queue_timeout, 0ms, "queue_timeout"));
    if (!p.max_conn)
      problems.push_back("queue_timeout: needs max_conn (without a limit no request queues)");
  }
  if (p.eject_5xx) add(check_range(*p.eject_5xx, 1, 1000, "eject"));
  if (p.balance) {
    const bool hashed =
        p.balance->kind == Balance::Kind::header || p.balance->kind == Balance::Kind::cookie;
    if (hashed)
      add(check_name(*p.balance, "balance"));
    else if (!p.balance->name.empty())
      problems.push_back(invalid("balance", to_string(*p.balance) + " " + p.balance->name,
                                 "roundrobin and leastconn hash no name"));
  }
  return problems;
}

std::variant<TrafficPolicy, std::vector<std::string>> traffic_policy_from_request(
    const json& body, std::string service) {
  std::vector<std::string> problems;
  TrafficPolicy out;
  out.service = std::move(service);
  if (!body.is_object()) return std::vector<std::string>{"body: expected a JSON object"};
  detail::Fields f(body, problems);
  read_fields(f, out, true);
  if (!problems.empty()) return problems;
  problems = validate_traffic_policy(out);
  if (!problems.empty()) return problems;
  return out;
}

json to_json(const TrafficPolicy& p) {
  json j = to_request_json(p);
  j["service"] = p.service;
  j["revision"] = p.revision;
  return j;
}

json to_request_json(const TrafficPolicy& p) {
  json j = json::object();
  if (p.retries) j["retries"] = *p.retries;
  if (!p.retry_on.empty()) j["retry_on"] = p.retry_on;
  if (p.timeout) j["timeout"] = format_duration(*p.timeout);
  if (p.max_conn) j["max_conn"] = *p.max_conn;
  if (p.queue_timeout) j["queue_timeout"] = format_duration(*p.queue_timeout);
  if (p.eject_5xx) j["eject"] = "5xx:" + std::to_string(*p.eject_5xx);
  if (p.balance) j["balance"] = to_string(*p.balance);
  return j;
}

std::variant<TrafficPolicy, std::vector<std::string>> traffic_policy_from_json(const json& j) {
  std::vector<std::string> problems;
  if (!j.is_object()) return std::vector<std::string>{"policy: expected a JSON object"};
  TrafficPolicy out;
  detail::Fields f(j, problems);
  if (auto service = f.string("service", true)) out.service = *service;
  if (auto revision = f.revision("revision", true)) out.revision = *revision;
  read_fields(f, out, false);
  if (!problems.empty()) return problems;
  problems = validate_traffic_policy(out);
  if (!problems.empty()) return problems;
  return out;
}

}  // namespace dstack::model
