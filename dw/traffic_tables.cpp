// SPDX-License-Identifier: Apache-2.0
#include "dw/traffic_tables.hpp"

#include <algorithm>
#include <cstdio>

namespace dstack::dw {

namespace {

std::string printf_text(const char* format, double value) {
  char text[32];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

std::uint64_t service_requests(const model::ServiceTrafficSummary& s) {
  std::uint64_t n = 0;
  for (const auto& v : s.versions) n += v.figures.requests;
  return n;
}

std::string share(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return "-";
  return printf_text("%.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

// The figures every table shows, in the order of figure_header(). dw top leaves out P90 so that
// its table fits 80 columns.
std::vector<std::string> figure_cells(const model::TrafficSummary& f, bool p90 = true) {
  std::vector<std::string> cells = {format_rps(f.rps), format_ratio(f.error_ratio),
                                    format_ms(f.p50_ms)};
  if (p90) cells.push_back(format_ms(f.p90_ms));
  cells.push_back(format_ms(f.p99_ms));
  cells.push_back(std::to_string(f.requests));
  return cells;
}
std::vector<std::string> figure_header(bool p90 = true) {
  if (!p90) return {"RPS", "ERRORS", "P50", "P99", "REQUESTS"};
  return {"RPS", "ERRORS", "P50", "P90", "P99", "REQUESTS"};
}

Table make_table(std::vector<std::string> lead, std::vector<std::string> tail = {},
                 bool p90 = true) {
  const std::size_t first = lead.size();
  const auto figures = figure_header(p90);
  lead.insert(lead.end(), figures.begin(), figures.end());
  lead.insert(lead.end(), tail.begin(), tail.end());
  const std::size_t size = lead.size();
  Table t(std::move(lead));
  for (std::size_t i = first; i < size; ++i) t.align_right(i);
  return t;
}

std::vector<std::string> joined(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A service's figure for sorting: the busiest, most failing or slowest of its versions.
double sort_figure(const model::ServiceTrafficSummary& s, TopSort sort) {
  double v = 0;
  for (const auto& version : s.versions) {
    const auto& f = version.figures;
    switch (sort) {
      case TopSort::rps:
        v += f.rps;
        break;
      case TopSort::errors:
        v = std::max(v, f.error_ratio);
        break;
      case TopSort::p99:
        v = std::max(v, f.p99_ms.value_or(0));
        break;
      case TopSort::name:
        break;
    }
  }
  return v;
}

}  // namespace

std::string format_rps(double rps) {
  if (rps >= 100) return printf_text("%.0f", rps);
  if (rps >= 10) return printf_text("%.1f", rps);
  return printf_text("%.2f", rps);
}

std::string format_ratio(double ratio) {
  return printf_text("%.2f%%", 100 * ratio);
}

std::string format_ms(const std::optional<double>& ms) {
  if (!ms) return "-";
  if (*ms >= 1000) return printf_text("%.2fs", *ms / 1000);
  if (*ms >= 100) return printf_text("%.0fms", *ms);
  if (*ms >= 10) return printf_text("%.1fms", *ms);
  return printf_text("%.2fms", *ms);
}

std::string format_version(const std::string& version) {
  return version.empty() ? "(none)" : version;
}

std::string format_ago(std::int64_t then_ms, std::int64_t now_ms) {
  if (then_ms <= 0) return "never";
  const std::int64_t s = std::max<std::int64_t>(0, (now_ms - then_ms) / 1000);
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  return std::to_string(s / 3600) + "h ago";
}

Table versions_table(const model::ServiceTrafficSummary& service) {
  std::vector<std::string> codes;
  for (auto name : model::kCodeClassNames) {
    std::string upper(name);
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    codes.push_back(upper);
  }
  Table t = make_table({"VERSION", "SHARE"}, codes);
  t.align_right(1);
  const auto total = service_requests(service);
  for (const auto& v : service.versions) {
    std::vector<std::string> row = joined(
        {format_version(v.version), share(v.figures.requests, total)}, figure_cells(v.figures));
    for (auto n : v.figures.codes) row.push_back(std::to_string(n));
    t.add(std::move(row));
  }
  return t;
}

Table consumers_traffic_table(const model::ServiceTrafficSummary& service) {
  Table t = make_table({"CONSUMER", "VERSION"});
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  for (const auto& v : service.versions)
    for (const auto& c : v.consumers)
      rows.push_back({c.consumer + '\t' + v.version,
                      joined({c.consumer, format_version(v.version)}, figure_cells(c.figures))});
  std::sort(rows.begin(), rows.end());
  for (auto& [key, row] : rows) t.add(std::move(row));
  return t;
}

Table consumers_table(const std::vector<model::Consumer>& consumers, std::int64_t now_ms) {
  Table t({"CONSUMER", "HOST", "API", "LAST REPORT", "SERVICES"});
  for (const auto& c : consumers) {
    std::string services;
    for (const auto& s : c.services) services += (services.empty() ? "" : ",") + s;
    t.add({c.name, c.host, c.api.empty() ? "-" : c.api, format_ago(c.last_report_ms, now_ms),
           services.empty() ? "-" : services});
  }
  return t;
}

const char* to_string(TopSort sort) {
  switch (sort) {
    case TopSort::rps:
      return "rps";
    case TopSort::errors:
      return "errors";
    case TopSort::p99:
      return "p99";
    case TopSort::name:
      return "name";
  }
  return "rps";
}

std::optional<TopSort> top_sort_for_key(char key) {
  switch (key) {
    case 'r':
    case 'R':
      return TopSort::rps;
    case 'e':
    case 'E':
      return TopSort::errors;
    case 'p':
    case 'P':
      return TopSort::p99;
    case 'n':
    case 'N':
      return TopSort::name;
    default:
      return std::nullopt;
  }
}

Table top_table(const model::TrafficView& view, TopSort sort) {
  std::vector<const model::ServiceTrafficSummary*> order;
  for (const auto& s : view.services) order.push_back(&s);
  // Biggest first for figures, then by name so the order is stable between refreshes.
  std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) {
    if (sort != TopSort::name) {
      const double fa = sort_figure(*a, sort), fb = sort_figure(*b, sort);
      if (fa != fb) return fa > fb;
    }
    return a->service < b->service;
  });
  Table t = make_table({"SERVICE", "VERSION", "SHARE"}, {"CONSUMERS"}, false);
  t.align_right(2);
  for (const auto* s : order) {
    const auto total = service_requests(*s);
    for (const auto& v : s->versions) {
      auto row = joined({s->service, format_version(v.version), share(v.figures.requests, total)},
                        figure_cells(v.figures, false));
      row.push_back(std::to_string(v.reporting));
      t.add(std::move(row));
    }
  }
  return t;
}

}  // namespace dstack::dw
