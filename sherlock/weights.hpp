// SPDX-License-Identifier: Apache-2.0
#pragma once
// Canary weights (docs/sherlock.md#canary-weights): how one service's traffic is split between
// its instances, and the HAProxy server weights that produce that split. Pure math, no I/O:
// sherlock calls it whenever an instance or a route of the service changes and applies the
// weights it returns.
//
// Rules, precisely (docs/sherlock.md repeats them):
//
// Which route. The route for this host's `consumer` wins over the route for everyone (consumer
// empty). The two are never merged: the global route is not consulted even when the consumer's
// route leaves nothing routable (rule 5 applies then). No route is the same as a route listing no
// version: everything is "the rest".
//
// Routable. An instance takes traffic when its health is passing or warning and its weight is
// above 0. A version is routable when at least one of its instances is. Anything else gets weight
// 0 and share 0, whatever the route says.
//
// Split between versions:
// 1. A listed version gets its percent.
// 2. The rest, 100 minus the sum of all listed percents (counting listed versions that are down or
//    have no instance at all), goes to the routable unlisted versions as one pool, by the summed
//    weights of their routable instances. A pool rather than an equal part per version, because
//    then a route that canaries v3 at 10 % leaves the other 90 % split exactly as it was before the
//    route existed, and an instance's weight means the same whether or not its version is listed;
//    an equal split would give one stray instance of an old version as much as a whole fleet.
// 3. The parts of versions that are not routable are dropped and the remaining parts are scaled up
//    to 100 %, so the missing share goes to every version with a part above 0, in proportion to
//    its part. This one rule covers:
//    - a listed version with no routable instance (v1=70 v2=20 and v3 unlisted, v2 down:
//      v1 70/80 = 87.5 %, v3 10/80 = 12.5 %);
//    - percents under 100 with no routable unlisted version: the rest goes to the listed versions
//      in proportion to their percents (v1=30 v2=20 and nothing else: 60 % / 40 %);
//    - percents summing to 100: unlisted versions get nothing.
// 4. A version listed at 0 % gets nothing while any version has a part above 0.
// 5. If no routable version has a part above 0 (v2=100 with v2 down; v2=0 with every other
//    version down), every routable instance shares by its weight, as with no route: traffic is
//    never sent into a hole while anything can take it. No routable instance: all weights 0.
// Within a version, its routable instances share its part in proportion to their weights.
//
// Inputs are expected validated (docs/api.md#names-and-values), but the math is total: weights
// are clamped to 0..256 and percents to 0..100, a version listed twice counts once (the first),
// and percents summing past 100 leave no rest and are read as proportions (rule 3).

#include <string>
#include <vector>

#include "common/model/model.hpp"

namespace dstack::sherlock {

struct ServerWeight {
  std::string id;      // the instance id
  int weight = 0;      // HAProxy server weight, 0..256; 0 = no traffic
  double share = 0.0;  // exact fraction, 0..1, of the service's traffic this instance should get
};

// The route that applies on this host: the first route for `consumer` (when not empty), else the
// first route for everyone, else nullptr. `routes` are one service's routes.
const model::Route* effective_route(const std::vector<model::Route>& routes,
                                    const std::string& consumer);

// One entry per instance of `instances` (one service, any health), sorted by id. Shares sum to 1
// when any instance is routable, else all are 0.
std::vector<ServerWeight> server_weights(const std::vector<model::Instance>& instances,
                                         const std::vector<model::Route>& routes,
                                         const std::string& consumer);

// Integer HAProxy weights (0..256) for exact shares (>= 0, any sum; index for index).
//
// Each share s is scaled to s * M / (largest share) and rounded to nearest; s > 0 gets at least 1,
// s = 0 gets 0. M, the largest weight, is the value in 1..256 whose weights come closest to the
// exact split: the smallest total variation distance D = 1/2 * sum |w / sum(w) - s / sum(s)|, ties
// to the larger M. So 90/10 becomes exactly 252:28 rather than 256:28 (= 90.14/9.86), and one
// server at 50 % beside a hundred sharing 50 % becomes exactly 200:2 each instead of 256:3.
//
// D is the worst error of any group of servers (a version, a host): each receives its exact share
// plus or minus at most D. M = 256 alone keeps every weight within 1/2 of exact, or within 1 for a
// server raised to 1, which bounds D for n servers with traffic, k of which have a share below
// 1/512 of the largest (those are raised to 1):
//     D <= (n - 1 + k) / (513 - n + k)          (about 0.2 points per server, worst case)
// The real limit is the floor of 1: a server with a share below about 1/256 of the largest still
// gets weight 1, i.e. about 1/257 of the traffic, taken from the others. 99.9/0.1 gives 256:1 =
// 99.61/0.39; one server at 99 % beside five at 0.2 % gives 256:1:1:1:1:1, so the big one gets
// 98.1 %. Without such servers the choice of M lands far below the bound: over 300,000 random
// services of up to 16 servers no version was off by more than 0.25 points.
std::vector<int> haproxy_weights(const std::vector<double>& shares);

}  // namespace dstack::sherlock
