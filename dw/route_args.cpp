// SPDX-License-Identifier: Apache-2.0
#include "dw/route_args.hpp"

#include "common/core/number.hpp"

namespace dstack::dw {

namespace {
// "10", "10%" -> 10; anything else -> -1.
int parse_percent(std::string_view text) {
  if (!text.empty() && text.back() == '%') text.remove_suffix(1);
  return parse_number<int>(text).value_or(-1);
}
}  // namespace

std::string service_argument(const std::string& text) {
  std::string_view s = text;
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  auto slash = s.rfind('/');
  return std::string(slash == std::string_view::npos ? s : s.substr(slash + 1));
}

std::variant<std::vector<model::RouteTarget>, std::string> parse_targets(
    const std::vector<std::string>& args) {
  std::vector<model::RouteTarget> out;
  for (const auto& arg : args) {
    auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0)
      return "target \"" + arg + "\" is invalid: write VERSION=PERCENT, like 2=10";
    int pct = parse_percent(std::string_view(arg).substr(eq + 1));
    if (pct < 0)
      return "target \"" + arg + "\" is invalid: the percent must be a whole number, like 2=10";
    out.push_back({arg.substr(0, eq), pct});
  }
  return out;
}

std::variant<RouteAdd, std::string> parse_route_add(const std::string& consumer,
                                                    const std::string& service_version,
                                                    const std::string& percent) {
  RouteAdd add;
  add.consumer = service_argument(consumer);
  auto open = service_version.find('(');
  if (open == std::string::npos || service_version.back() != ')')
    return "\"" + service_version + "\" is invalid: write //SERVICE(VERSION), like //barker(2)";
  add.service = service_argument(service_version.substr(0, open));
  add.target.version = service_version.substr(open + 1, service_version.size() - open - 2);
  add.target.weight = parse_percent(percent);
  if (add.target.weight < 0)
    return "percent \"" + percent + "\" is invalid: write a whole number, like 10%";
  return add;
}

std::vector<model::RouteTarget> merge_target(std::vector<model::RouteTarget> targets,
                                             const model::RouteTarget& target) {
  for (auto& t : targets) {
    if (t.version == target.version) {
      t.weight = target.weight;
      return targets;
    }
  }
  targets.push_back(target);
  return targets;
}

}  // namespace dstack::dw
