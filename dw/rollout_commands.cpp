// SPDX-License-Identifier: Apache-2.0
// dw rollout start|status|pause|resume|promote|abort|list (docs/dw.md#rollouts): the directory's
// /v1/rollouts for people. What they print is rollout_text's.
#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>

#include "common/core/exit_codes.hpp"
#include "common/model/validate.hpp"
#include "dw/commands.hpp"
#include "dw/rollout_text.hpp"

namespace dstack::dw {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int show(const Output& o, const model::RolloutView& view) {
  if (o.json) {
    o.out << model::to_json(view).dump(2) << '\n';
    return exit_code::ok;
  }
  for (const auto& line : rollout_status_lines(view, now_ms())) o.out << line << '\n';
  return exit_code::ok;
}

}  // namespace

awaitable<int> rollout_start(registry::Registry& reg, Output o, std::string service,
                             RolloutFlags flags) {
  std::vector<std::string> problems;
  if (auto p = model::check_service_name(service)) problems.push_back(*p);
  auto spec = parse_rollout_flags(service, flags);
  if (auto* bad = std::get_if<std::vector<std::string>>(&spec))
    problems.insert(problems.end(), bad->begin(), bad->end());
  if (!problems.empty()) co_return refuse(o, problems);
  auto start = reg.start_rollout(std::get<model::RolloutSpec>(std::move(spec)));
  auto started = co_await std::move(start);
  if (!started) co_return fail(o, started.error());
  co_return show(o, *started);
}

awaitable<int> rollout_status(registry::Registry& reg, Output o, std::string service) {
  if (auto p = model::check_service_name(service)) co_return refuse(o, {*p});
  auto fetch = reg.rollout(service);
  auto view = co_await std::move(fetch);
  if (!view) co_return fail(o, view.error());
  co_return show(o, *view);
}

awaitable<int> rollout_command(registry::Registry& reg, Output o, std::string service,
                               std::string command) {
  if (auto p = model::check_service_name(service)) co_return refuse(o, {*p});
  auto send = reg.rollout_command(service, command);
  auto view = co_await std::move(send);
  if (!view) co_return fail(o, view.error());
  co_return show(o, *view);
}

awaitable<int> rollout_list(registry::Registry& reg, Output o) {
  auto fetch = reg.rollouts();
  auto list = co_await std::move(fetch);
  if (!list) co_return fail(o, list.error());
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : *list) out.push_back(model::to_json(v));
    o.out << nlohmann::json{{"rollouts", std::move(out)}}.dump(2) << '\n';
    co_return exit_code::ok;
  }
  if (list->empty()) {
    o.out << "no rollouts\n";
    co_return exit_code::ok;
  }
  rollout_table(*list).print(o.out);
  co_return exit_code::ok;
}

}  // namespace dstack::dw
