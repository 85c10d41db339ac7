// SPDX-License-Identifier: Apache-2.0
#pragma once
// What dw top shows (docs/dw.md#dw-top): a summary line, the traffic table, and the keys, fitted
// to the terminal. Pure: the live loop (insight_commands.cpp) fetches and draws what this returns.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/model/traffic_view.hpp"
#include "dw/traffic_tables.hpp"

namespace dstack::dw {

struct TopFrame {
  std::string directory;  // where the figures come from
  std::string clock;      // local time of the last answer, "23:44:10"
  std::string window;     // "1m"
  TopSort sort = TopSort::rps;
  std::optional<model::TrafficView> view;  // the last answer, if any came
  std::string problem;                     // why the last refresh failed; "" when it worked
  std::size_t width = 80;
  std::size_t height = 24;
};

// The screen's lines, at most `height`, each at most `width` characters. Rows that do not fit
// are counted in a last line ("... 12 more").
std::vector<std::string> render_top(const TopFrame& frame);

// The fleet's totals for the summary line: "4 services, 6 versions, 3 consumers, 1204 rps,
// 0.12% errors".
std::string top_summary(const model::TrafficView& view);

}  // namespace dstack::dw
