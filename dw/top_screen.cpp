// SPDX-License-Identifier: Apache-2.0
#include "dw/top_screen.hpp"

namespace dstack::dw {

namespace {

// Cut to the width; control characters (from a directory's message, say) shown as '?'.
std::string fit(std::string line, std::size_t width) {
  if (line.size() > width) line.resize(width);
  for (auto& c : line)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return line;
}

std::string plural(std::size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

std::string top_summary(const model::TrafficView& view) {
  std::size_t versions = 0;
  double rps = 0;
  std::uint64_t requests = 0, errors = 0;
  for (const auto& s : view.services)
    for (const auto& v : s.versions) {
      ++versions;
      rps += v.figures.rps;
      requests += v.figures.requests;
      errors += v.figures.codes[static_cast<std::size_t>(model::CodeClass::c5xx)] +
                v.figures.codes[static_cast<std::size_t>(model::CodeClass::conn_error)];
    }
  const double ratio = requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0;
  return plural(view.services.size(), "service") + ", " + plural(versions, "version") + ", " +
         plural(view.reporting, "consumer") + ", " + format_rps(rps) + " rps, " +
         format_ratio(ratio) + " errors";
}

std::vector<std::string> render_top(const TopFrame& f) {
  std::vector<std::string> lines;
  lines.push_back("dw top - " + f.clock + " - " + f.directory + " - last " + f.window);
  if (!f.problem.empty())
    lines.push_back("refresh failed: " + f.problem + (f.view ? " (showing the last answer)" : ""));
  else if (f.view)
    lines.push_back(top_summary(*f.view));
  else
    lines.push_back("waiting for the directory...");
  lines.emplace_back();
  const std::string keys = std::string("sorted by ") + to_string(f.sort) +
                           "   keys: r rps  e errors  p p99  n name  q quit";
  if (f.view) {
    if (f.view->services.empty()) {
      lines.push_back("no traffic reported in the last " + f.window +
                      " (sherlocks report every report_interval)");
    } else {
      auto table = top_table(*f.view, f.sort).lines();
      // The header, the rows that fit, and the keys below them.
      const std::size_t room = f.height > lines.size() + 2 ? f.height - lines.size() - 2 : 1;
      if (table.size() <= room) {
        lines.insert(lines.end(), table.begin(), table.end());
      } else {
        const std::size_t shown = room > 1 ? room - 1 : 0;
        lines.insert(lines.end(), table.begin(), table.begin() + shown);
        lines.push_back("... " + std::to_string(table.size() - shown) + " more");
      }
    }
  }
  lines.emplace_back();
  lines.push_back(keys);
  if (f.height > 0 && lines.size() > f.height)
    lines.erase(lines.begin() + f.height - 1, lines.end() - 1);
  for (auto& line : lines) line = fit(std::move(line), f.width);
  return lines;
}

}  // namespace dstack::dw
