// SPDX-License-Identifier: Apache-2.0
// /metrics: the directory's state and counters (every metric: docs/metrics.md#directory).
#include "common/metrics/writer.hpp"
#include "directory/api.hpp"

namespace dstack::directory {

net::HttpResponse Api::metrics() const {
  metrics::Writer w;
  const auto& c = state_.counters();
  auto n = [](auto v) { return static_cast<double>(v); };
  w.gauge("dstack_directory_revision", "Current revision.", n(state_.revision()))
      .gauge("dstack_directory_synced", "1 once the start-up grace period is over.",
             state_.synced() ? 1 : 0)
      .gauge("dstack_directory_leases", "Live leases.", n(state_.lease_count()))
      .gauge("dstack_directory_instances", "Registered instances.", n(state_.instance_count()))
      .gauge("dstack_directory_routes", "Stored routes.", n(state_.route_count()))
      .gauge("dstack_directory_watchers", "Open watch streams.", n(watchers_.size()))
      .counter("dstack_directory_leases_granted_total", "Leases granted.", n(c.leases_granted))
      .counter("dstack_directory_leases_expired_total", "Leases that expired.", n(c.leases_expired))
      .counter("dstack_directory_leases_revoked_total", "Leases revoked.", n(c.leases_revoked))
      .counter("dstack_directory_keepalives_total", "Lease keepalives.", n(c.keepalives))
      .counter("dstack_directory_watchers_cut_off_total",
               "Watch streams ended because the reader fell too far behind.",
               n(watchers_.cut_off()));
  const auto& r = consumers_.counters();
  w.gauge("dstack_directory_consumers", "Registered consumers (sherlocks).", n(consumers_.size()))
      .gauge("dstack_directory_traffic_series",
             "Consumer x service x version series the traffic window holds.",
             n(consumers_.window().consumer_series()))
      .gauge("dstack_directory_traffic_window_bytes",
             "Memory the traffic window's figures take, approximately (without the allocator's).",
             n(consumers_.window().bytes()))
      .counter("dstack_directory_traffic_reports_total", "Traffic reports taken.", n(r.reports))
      .counter("dstack_directory_traffic_reports_refused_total",
               "Traffic reports refused: unknown or expired consumer, or not the caller's.",
               n(r.reports_refused))
      .counter("dstack_directory_reported_requests_total",
               "Requests counted in the traffic reports taken.", n(r.requests_reported));
  if (server_metrics_) server_metrics_(w);
  return net::HttpResponse{200, "text/plain; version=0.0.4", std::move(w).text(), {}, {}};
}

}  // namespace dstack::directory
