// SPDX-License-Identifier: Apache-2.0
// dw policy set|show|rm (docs/dw.md#traffic-policies): the directory's /v1/policies for people.
#include <nlohmann/json.hpp>
#include <ostream>

#include "common/core/duration.hpp"
#include "common/core/exit_codes.hpp"
#include "common/model/json.hpp"
#include "common/model/traffic_policy.hpp"
#include "common/model/validate.hpp"
#include "dw/commands.hpp"
#include "dw/route_args.hpp"

namespace dstack::dw {

using nlohmann::json;

namespace {

// A flag's text as the JSON value the API reads: a number when it is one, else the text, so the
// policy's own validation names the field, the value and the rule either way.
json number_or_text(const std::string& text) {
  const bool digits = !text.empty() && text.size() <= 9 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  return digits ? json(std::stoi(text)) : json(text);
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (;;) {
    const auto comma = text.find(',', at);
    out.push_back(text.substr(at, comma - at));
    if (comma == std::string::npos) return out;
    at = comma + 1;
  }
}

}  // namespace

std::string describe_policy(const model::TrafficPolicy& p) {
  std::string text;
  const auto add = [&](const char* flag, const std::string& value) {
    text += (text.empty() ? "" : " ") + std::string(flag) + "=" + value;
  };
  if (p.retries) add("retries", std::to_string(*p.retries));
  if (!p.retry_on.empty()) {
    std::string words;
    for (const auto& w : p.retry_on) words += (words.empty() ? "" : ",") + w;
    add("retry-on", words);
  }
  if (p.timeout) add("timeout", format_duration(*p.timeout));
  if (p.max_conn) add("max-conn", std::to_string(*p.max_conn));
  if (p.queue_timeout) add("queue-timeout", format_duration(*p.queue_timeout));
  if (p.eject_5xx) add("eject", "5xx:" + std::to_string(*p.eject_5xx));
  if (p.balance) add("balance", model::to_string(*p.balance));
  return text.empty() ? "(nothing set: sherlock's defaults)" : text;
}

std::variant<model::TrafficPolicy, std::vector<std::string>> parse_policy_flags(
    const std::string& service, const PolicyFlags& flags) {
  json body = json::object();
  if (flags.retries) body["retries"] = number_or_text(*flags.retries);
  if (flags.retry_on) body["retry_on"] = split_commas(*flags.retry_on);
  if (flags.timeout) body["timeout"] = *flags.timeout;
  if (flags.max_conn) body["max_conn"] = number_or_text(*flags.max_conn);
  if (flags.queue_timeout) body["queue_timeout"] = *flags.queue_timeout;
  if (flags.eject) body["eject"] = *flags.eject;
  if (flags.balance) body["balance"] = *flags.balance;
  return model::traffic_policy_from_request(body, service_argument(service));
}

awaitable<int> policy_set(registry::Registry& reg, Output o, std::string service,
                          PolicyFlags flags) {
  auto parsed = parse_policy_flags(service, flags);
  if (auto* problems = std::get_if<std::vector<std::string>>(&parsed))
    co_return refuse(o, *problems);
  auto policy = std::get<model::TrafficPolicy>(std::move(parsed));
  auto put = reg.put_policy(policy);
  auto done = co_await std::move(put);
  if (!done) co_return fail(o, done.error());
  // Show what the directory stored (with its revision), not what was sent.
  auto read_back = reg.policy(policy.service);
  if (auto stored = co_await std::move(read_back)) policy = *stored;
  if (o.json)
    o.out << model::to_json(policy).dump() << '\n';
  else
    o.out << "policy for " << policy.service << ": " << describe_policy(policy) << '\n';
  co_return exit_code::ok;
}

awaitable<int> policy_show(registry::Registry& reg, Output o, std::string service) {
  std::vector<model::TrafficPolicy> shown;
  if (service.empty()) {
    auto list = reg.policies();
    auto all = co_await std::move(list);
    if (!all) co_return fail(o, all.error());
    shown = std::move(*all);
  } else {
    service = service_argument(service);
    if (auto p = model::check_service_name(service)) co_return refuse(o, {*p});
    auto get = reg.policy(service);
    auto one = co_await std::move(get);
    if (!one) co_return fail(o, one.error());
    shown.push_back(std::move(*one));
  }
  if (o.json) {
    json list = json::array();
    for (const auto& p : shown) list.push_back(model::to_json(p));
    o.out << (service.empty() ? json{{"policies", list}} : list.front()).dump(2) << '\n';
    co_return exit_code::ok;
  }
  for (const auto& p : shown) o.out << p.service << ": " << describe_policy(p) << '\n';
  co_return exit_code::ok;
}

awaitable<int> policy_rm(registry::Registry& reg, Output o, std::string service) {
  service = service_argument(service);
  if (auto p = model::check_service_name(service)) co_return refuse(o, {*p});
  auto removal = reg.delete_policy(service);
  auto done = co_await std::move(removal);
  if (!done) co_return fail(o, done.error());
  if (o.json)
    o.out << json{{"service", service}, {"removed", true}}.dump() << '\n';
  else
    o.out << "policy for " << service << " removed\n";
  co_return exit_code::ok;
}

}  // namespace dstack::dw
