// SPDX-License-Identifier: Apache-2.0
#pragma once
// The tables of dw traffic, dw consumers and dw top (docs/dw.md#traffic-insight), built from what
// the directory answers. Pure, so they are tested without a directory.

#include <cstdint>
#include <string>
#include <vector>

#include "common/model/consumer.hpp"
#include "common/model/traffic_view.hpp"
#include "dw/table.hpp"

namespace dstack::dw {

// "18.2", "0.43", "1204"
std::string format_rps(double rps);
// "0.00%", "4.17%"
std::string format_ratio(double ratio);
// "0.85ms", "12.4ms", "1.50s"; "-" without requests
std::string format_ms(const std::optional<double>& ms);
// "(none)" for requests no instance was chosen for, else the version
std::string format_version(const std::string& version);
// "3s ago", "5m ago", "never"
std::string format_ago(std::int64_t then_ms, std::int64_t now_ms);

// One service's versions: VERSION SHARE RPS ERRORS P50 P90 P99 REQUESTS and a column per code
// class. SHARE is the version's part of the service's requests: a canary's weight, as seen.
Table versions_table(const model::ServiceTrafficSummary& service);
// Each consumer's share of each version: CONSUMER VERSION RPS ERRORS P50 P90 P99 REQUESTS.
Table consumers_traffic_table(const model::ServiceTrafficSummary& service);
// CONSUMER HOST API LAST REPORT SERVICES
Table consumers_table(const std::vector<model::Consumer>& consumers, std::int64_t now_ms);

// dw top's order: services by the figure (their versions kept together, in version order).
enum class TopSort { rps, errors, p99, name };
const char* to_string(TopSort sort);
// The key that picks an order (r, e, p, n), or nullopt.
std::optional<TopSort> top_sort_for_key(char key);
// SERVICE VERSION SHARE RPS ERRORS P50 P99 REQUESTS CONSUMERS, services in `sort` order.
Table top_table(const model::TrafficView& view, TopSort sort);

}  // namespace dstack::dw
