// SPDX-License-Identifier: Apache-2.0
#pragma once
// The directory's data: leases, instances, routes, traffic policies, and the events that change
// them.
// Plain structs; validation lives in validate.hpp, JSON in json.hpp.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dstack::model {

enum class Health { passing, warning, critical, maintenance };

// Passing and warning instances take traffic; critical and maintenance ones do not.
inline bool routable(Health h) {
  return h == Health::passing || h == Health::warning;
}

// How consumers speak to an instance (docs/api.md#names-and-values): HTTP/1.1, HTTP/2 (h2c, or h2
// over TLS), gRPC (HTTP/2 too), or plain TCP. An instance that says nothing speaks what its URL
// says: tcp for tcp://, else http.
enum class Protocol { http, http2, grpc, tcp };

struct Lease {
  std::string id;
  std::chrono::seconds ttl{10};
  std::string owner;
  bool operator==(const Lease&) const = default;
};

struct Instance {
  std::string service;
  std::string id;
  std::string lease;
  std::string url;
  std::string version = "1";
  int weight = 100;  // 0..256; 0 = drained
  Health health = Health::passing;
  std::vector<std::string> tags;
  std::map<std::string, std::string> meta;
  std::optional<Protocol> protocol;  // as registered; protocol_of() says what applies
  std::uint64_t revision = 0;        // the directory revision that last changed it
  bool operator==(const Instance&) const = default;
};

// The protocol an instance is reached with: the registered one, else its URL's (tcp:// is tcp,
// anything else http).
inline Protocol protocol_of(const Instance& instance) {
  if (instance.protocol) return *instance.protocol;
  return instance.url.starts_with("tcp://") ? Protocol::tcp : Protocol::http;
}

struct RouteTarget {
  std::string version;
  int weight = 0;  // percent, 0..100
  bool operator==(const RouteTarget&) const = default;
};

// A route for one service, for every consumer (consumer empty) or for one consumer.
struct Route {
  std::string service;
  std::string consumer;
  std::vector<RouteTarget> targets;
  std::uint64_t revision = 0;
  bool operator==(const Route&) const = default;
};

struct Balance {
  enum class Kind { roundrobin, leastconn, header, cookie };
  Kind kind = Kind::roundrobin;
  std::string name;  // the header or cookie hashed (header, cookie); empty otherwise
  bool operator==(const Balance&) const = default;
};

// An operator's policy for one service's traffic (docs/api.md#traffic-policies): how every
// sherlock's HAProxy retries, times out, limits, ejects and balances the service's requests.
// Every field is optional: absent means sherlock.yaml's setting (retries, timeouts.server) or
// HAProxy's own (no limit, no ejection, round robin). Validation and JSON: traffic_policy.hpp.
struct TrafficPolicy {
  std::string service;
  std::optional<int> retries;                              // 0..10 after the first try
  std::vector<std::string> retry_on;                       // kRetryOn words, each once
  std::optional<std::chrono::milliseconds> timeout;        // 1ms..1h: the instance's silence
  std::optional<int> max_conn;                             // 1..100000 per instance
  std::optional<std::chrono::milliseconds> queue_timeout;  // 0ms..1h, with max_conn
  std::optional<int> eject_5xx;                            // 1..1000 consecutive 5xx
  std::optional<Balance> balance;
  std::uint64_t revision = 0;  // the directory revision that last changed it
  // Set by a reader of snapshots and watch events for a policy it could not take (a newer
  // directory's value, a hand-edited one): why, one problem each. Such a policy sets nothing and
  // is reported where it would apply, instead of refusing every other change with it.
  std::vector<std::string> unreadable;
  bool operator==(const TrafficPolicy&) const = default;
};

struct Snapshot {
  std::uint64_t revision = 0;
  std::string epoch;
  bool synced = true;
  std::vector<Instance> instances;
  std::vector<Route> routes;
  std::vector<TrafficPolicy> policies;  // by service name
  bool operator==(const Snapshot&) const = default;
};

struct Event {
  enum class Type {
    instance_put,
    instance_delete,
    route_put,
    route_delete,
    policy_put,
    policy_delete
  };
  Type type = Type::instance_put;
  std::uint64_t revision = 0;
  std::string service;
  std::string id;        // instance id (instance events)
  std::string consumer;  // route events; empty = everyone
  Instance instance;     // instance_put
  Route route;           // route_put
  TrafficPolicy policy;  // policy_put
  bool operator==(const Event&) const = default;
};

struct DirectoryHealth {
  std::string status;
  std::uint64_t revision = 0;
  std::string epoch;
  bool synced = true;
  bool operator==(const DirectoryHealth&) const = default;
};

}  // namespace dstack::model
