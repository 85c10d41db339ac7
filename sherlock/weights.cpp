// SPDX-License-Identifier: Apache-2.0
#include "sherlock/weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <numeric>

namespace dstack::sherlock {

namespace {

constexpr int kMaxWeight = 256;

int instance_weight(const model::Instance& i) {
  return std::clamp(i.weight, 0, kMaxWeight);
}

bool takes_traffic(const model::Instance& i) {
  return model::routable(i.health) && instance_weight(i) > 0;
}

// Every share scaled so the largest becomes `top`; a share above 0 never rounds to 0.
std::vector<int> scaled(const std::vector<double>& shares, double largest, int top) {
  std::vector<int> w(shares.size(), 0);
  for (std::size_t i = 0; i < shares.size(); ++i) {
    if (!(shares[i] > 0)) continue;
    const auto r = std::lround(shares[i] * top / largest);
    w[i] = static_cast<int>(std::clamp<long>(r, 1, top));
  }
  return w;
}

// Total variation distance between the split the weights give and the exact one: the largest
// error any group of servers sees, which is what an operator comparing a version's observed
// traffic with its route notices.
double distance(const std::vector<int>& w, const std::vector<double>& shares, double total) {
  const double sum_w = std::accumulate(w.begin(), w.end(), 0.0);
  double d = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double s = shares[i] > 0 ? shares[i] / total : 0.0;
    d += std::abs(w[i] / sum_w - s);
  }
  return d / 2;
}

}  // namespace

const model::Route* effective_route(const std::vector<model::Route>& routes,
                                    const std::string& consumer) {
  const model::Route* everyone = nullptr;
  for (const auto& r : routes) {
    if (!consumer.empty() && r.consumer == consumer) return &r;
    if (r.consumer.empty() && everyone == nullptr) everyone = &r;
  }
  return everyone;
}

std::vector<int> haproxy_weights(const std::vector<double>& shares) {
  double largest = 0, total = 0;
  for (double s : shares) {
    if (!(s > 0)) continue;  // also drops NaN
    largest = std::max(largest, s);
    total += s;
  }
  std::vector<int> best(shares.size(), 0);
  if (largest <= 0) return best;
  // Every candidate costs O(n), so trying all 256 stays cheap even for large fleets; going down
  // from 256 with a strict improvement keeps the larger M on ties.
  double best_d = 2;
  for (int top = kMaxWeight; top >= 1; --top) {
    auto w = scaled(shares, largest, top);
    const double d = distance(w, shares, total);
    if (d < best_d - 1e-12) {
      best_d = d;
      best = std::move(w);
      if (best_d < 1e-12) break;  // exact: no smaller M can do better
    }
  }
  return best;
}

std::vector<ServerWeight> server_weights(const std::vector<model::Instance>& instances,
                                         const std::vector<model::Route>& routes,
                                         const std::string& consumer) {
  std::map<std::string, double> version_weight;  // summed weights of routable instances
  for (const auto& i : instances)
    if (takes_traffic(i)) version_weight[i.version] += instance_weight(i);

  std::map<std::string, int> percent;  // listed versions
  int listed_sum = 0;
  if (const auto* route = effective_route(routes, consumer)) {
    for (const auto& t : route->targets) {
      const int p = std::clamp(t.weight, 0, 100);
      if (percent.emplace(t.version, p).second) listed_sum += p;
    }
  }
  const int rest = std::max(0, 100 - listed_sum);
  double unlisted_weight = 0;
  for (const auto& [version, w] : version_weight)
    if (!percent.contains(version)) unlisted_weight += w;

  // Rules 1-3: each routable version's part; dividing by their sum is the redistribution.
  std::map<std::string, double> part;
  double parts = 0;
  for (const auto& [version, w] : version_weight) {
    const auto listed = percent.find(version);
    part[version] = listed != percent.end() ? listed->second : rest * w / unlisted_weight;
    parts += part[version];
  }
  if (parts <= 0) {  // rule 5: nothing has a part, so every routable instance by weight
    for (const auto& [version, w] : version_weight) part[version] = w;
    parts = std::accumulate(version_weight.begin(), version_weight.end(), 0.0,
                            [](double sum, const auto& vw) { return sum + vw.second; });
  }

  std::vector<ServerWeight> out;
  out.reserve(instances.size());
  for (const auto& i : instances) {
    double share = 0;
    if (takes_traffic(i))
      share = part[i.version] / parts * instance_weight(i) / version_weight[i.version];
    out.push_back({i.id, 0, share});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const ServerWeight& a, const ServerWeight& b) { return a.id < b.id; });

  std::vector<double> shares;
  shares.reserve(out.size());
  for (const auto& s : out) shares.push_back(s.share);
  const auto weights = haproxy_weights(shares);
  for (std::size_t i = 0; i < out.size(); ++i) out[i].weight = weights[i];
  return out;
}

}  // namespace dstack::sherlock
