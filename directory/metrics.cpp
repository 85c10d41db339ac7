// /metrics: Prometheus text exposition of the directory's state and counters.
#include <sstream>

#include "directory/api.hpp"

namespace dstack::directory {

namespace {
void gauge(std::ostringstream& out, const char* name, const char* help, double value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n"
      << name << ' ' << value << '\n';
}
void counter(std::ostringstream& out, const char* name, const char* help, std::uint64_t value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
      << name << ' ' << value << '\n';
}
}  // namespace

net::HttpResponse Api::metrics() const {
  std::ostringstream out;
  const auto& c = state_.counters();
  gauge(out, "dstack_directory_revision", "Current revision.",
        static_cast<double>(state_.revision()));
  gauge(out, "dstack_directory_synced", "1 once the start-up grace period is over.",
        state_.synced() ? 1 : 0);
  gauge(out, "dstack_directory_leases", "Live leases.", static_cast<double>(state_.lease_count()));
  gauge(out, "dstack_directory_instances", "Registered instances.",
        static_cast<double>(state_.instance_count()));
  gauge(out, "dstack_directory_routes", "Stored routes.", static_cast<double>(state_.route_count()));
  gauge(out, "dstack_directory_watchers", "Open watch streams.",
        static_cast<double>(watchers_.size()));
  counter(out, "dstack_directory_leases_granted_total", "Leases granted.", c.leases_granted);
  counter(out, "dstack_directory_leases_expired_total", "Leases that expired.", c.leases_expired);
  counter(out, "dstack_directory_leases_revoked_total", "Leases revoked.", c.leases_revoked);
  counter(out, "dstack_directory_keepalives_total", "Lease keepalives.", c.keepalives);
  counter(out, "dstack_directory_watchers_cut_off_total",
          "Watch streams ended because the reader fell too far behind.", watchers_.cut_off());
  if (extra_metrics_) out << extra_metrics_();
  return net::HttpResponse{200, "text/plain; version=0.0.4", out.str(), {}, {}};
}

}  // namespace dstack::directory
