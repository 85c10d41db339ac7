// SPDX-License-Identifier: Apache-2.0
#include "common/registry/etcd_client.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "common/model/json.hpp"
#include "common/model/traffic_policy.hpp"
#include "common/model/validate.hpp"
#include "common/registry/etcd_entries.hpp"
#include "common/registry/etcd_keys.hpp"
#include "common/registry/etcd_members.hpp"
#include "common/registry/etcd_watch.hpp"

namespace dstack::registry {

using nlohmann::json;
using namespace etcd;

namespace {

constexpr std::size_t kPageSize = 1000;  // keys per range request: bounds every answer

// Everything under the prefix at one revision.
struct Contents {
  std::uint64_t revision = 0;
  std::string cluster;  // etcd's cluster id: the epoch revisions belong to
  std::vector<model::Instance> instances;
  std::vector<model::Route> routes;
  std::vector<model::TrafficPolicy> policies;
};

class EtcdClient final : public Registry {
 public:
  EtcdClient(asio::any_io_executor ex, const DirectoryAddress& address, ClientSettings settings)
      : address_(address), keys_(address.prefix), members_(ex, address, settings) {}

  std::string describe() const override { return address_.to_string(); }

 protected:
  Error no_tokens() const override {
    return Error{ErrorKind::refused, "not_supported",
                 describe() +
                     ": etcd keeps its own users and roles, not dstack tokens "
                     "(docs/etcd.md#auth-and-tls)"};
  }

 public:
  awaitable<Result<model::DirectoryHealth>> health() override {
    auto status = members_.call("/v3/maintenance/status", "{}");
    auto r = co_await std::move(status);
    if (!r) co_return r.error();
    const auto& header = field(*r, "header");
    model::DirectoryHealth h;
    h.status = number_field(*r, "leader") != 0 ? "ok" : "no_leader";
    h.revision = number_field(header, "revision");
    h.epoch = string_field(header, "cluster_id");
    h.synced = true;  // etcd keeps leases across restarts: nothing to wait for
    co_return h;
  }

  awaitable<Result<model::Lease>> grant_lease(std::chrono::seconds ttl,
                                              std::string owner) override {
    // Bodies are built before the co_await: GCC 12 miscompiles a braced json temporary in it.
    const std::string body = json{{"TTL", std::to_string(ttl.count())}}.dump();
    auto grant = members_.call("/v3/lease/grant", body);
    auto r = co_await std::move(grant);
    if (!r) co_return r.error();
    auto id = string_field(*r, "ID");
    auto granted = number_field(*r, "TTL");
    if (id.empty() || granted == 0)
      co_return protocol_error(members_.authority(), "lease answer lacks ID or TTL");
    co_return model::Lease{id, std::chrono::seconds(granted), std::move(owner)};
  }

  awaitable<Status> keepalive(std::string lease_id) override {
    const std::string body = json{{"ID", lease_id}}.dump();
    auto keep = members_.call("/v3/lease/keepalive", body);
    auto r = co_await std::move(keep);
    if (!r) co_return r.error();
    // An unknown or expired lease is answered with no TTL, not with an error.
    if (number_field(field(*r, "result"), "TTL") == 0) co_return lease_gone(lease_id);
    co_return Ok{};
  }

  awaitable<Status> revoke(std::string lease_id) override {
    const std::string body = json{{"ID", lease_id}}.dump();
    auto revocation = members_.call("/v3/lease/revoke", body);
    auto r = co_await std::move(revocation);
    if (!r && r.error().kind == ErrorKind::not_found) co_return lease_gone(lease_id);
    co_return status_of(r);
  }

  awaitable<Status> put_instance(model::Instance in) override {
    if (auto problems = model::validate_instance(in); !problems.empty())
      co_return Error{ErrorKind::refused, "invalid_instance", model::join(problems)};
    json body{{"key", base64_encode(keys_.instance(in.service, in.id))},
              {"value", base64_encode(instance_value(in))}};
    if (!in.lease.empty()) body["lease"] = in.lease;
    auto put = members_.call("/v3/kv/put", body.dump());
    auto r = co_await std::move(put);
    if (!r && r.error().kind == ErrorKind::not_found) co_return lease_gone(in.lease);
    co_return status_of(r);
  }

  awaitable<Status> delete_instance(std::string service, std::string id) override {
    auto removal = remove(keys_.instance(service, id));
    auto r = co_await std::move(removal);
    if (r && *r == 0)
      co_return Error{ErrorKind::not_found, "instance_not_found",
                      "service " + service + " has no instance " + id};
    co_return status_of(r);
  }

  awaitable<Result<std::vector<ServiceSummary>>> services() override {
    auto read = read_all();
    auto all = co_await std::move(read);
    if (!all) co_return all.error();
    std::map<std::string, ServiceSummary> by_name;
    for (const auto& in : all->instances) {
      auto& s = by_name[in.service];
      ++s.instances;
      s.routable += model::routable(in.health) && in.weight > 0;
    }
    for (const auto& route : all->routes) ++by_name[route.service].routes;
    std::vector<ServiceSummary> out;
    for (auto& [name, s] : by_name) {
      s.name = name;
      out.push_back(std::move(s));
    }
    co_return out;
  }

  awaitable<Result<ServiceView>> service(std::string name) override {
    if (auto p = model::check_service_name(name))
      co_return Error{ErrorKind::refused, "invalid_name", *p};
    auto read = read_all();
    auto all = co_await std::move(read);
    if (!all) co_return all.error();
    ServiceView view{name, {}, {}};
    for (auto& in : all->instances)
      if (in.service == name) view.instances.push_back(std::move(in));
    for (auto& route : all->routes)
      if (route.service == name) view.routes.push_back(std::move(route));
    if (view.instances.empty() && view.routes.empty())
      co_return Error{ErrorKind::not_found, "service_not_found", "no service named " + name};
    co_return view;
  }

  awaitable<Result<model::Snapshot>> snapshot() override {
    auto read = read_all();
    auto all = co_await std::move(read);
    if (!all) co_return all.error();
    model::Snapshot snap;
    snap.revision = all->revision;
    snap.epoch = std::move(all->cluster);
    snap.synced = true;
    snap.instances = std::move(all->instances);
    snap.routes = std::move(all->routes);
    snap.policies = std::move(all->policies);
    co_return snap;
  }

  awaitable<Result<std::unique_ptr<Watch>>> watch(std::uint64_t since, std::string epoch) override {
    auto w = std::make_unique<EtcdWatch>(members_, keys_, since, std::move(epoch));
    auto open = w->open();
    auto opened = co_await std::move(open);
    if (!opened) co_return opened.error();
    co_return std::unique_ptr<Watch>(std::move(w));
  }

  awaitable<Result<std::vector<model::Route>>> routes(std::optional<std::string> service) override {
    auto read = read_all();
    auto all = co_await std::move(read);
    if (!all) co_return all.error();
    std::vector<model::Route> out;
    for (auto& route : all->routes)
      if (!service || route.service == *service) out.push_back(std::move(route));
    co_return out;
  }

  awaitable<Result<model::Route>> route(std::string service, std::string consumer) override {
    auto read = read_all();
    auto all = co_await std::move(read);
    if (!all) co_return all.error();
    for (auto& r : all->routes)
      if (r.service == service && r.consumer == consumer) co_return std::move(r);
    co_return route_gone(service, consumer);
  }

  awaitable<Status> put_route(model::Route route) override {
    if (auto problems = model::validate_route(route); !problems.empty())
      co_return Error{ErrorKind::refused, "invalid_route", model::join(problems)};
    json body{{"key", base64_encode(keys_.route(route.service, route.consumer))},
              {"value", base64_encode(route_value(route))}};
    auto put = members_.call("/v3/kv/put", body.dump());
    co_return status_of(co_await std::move(put));
  }

  awaitable<Status> delete_route(std::string service, std::string consumer) override {
    auto removal = remove(keys_.route(service, consumer));
    auto r = co_await std::move(removal);
    if (r && *r == 0) co_return route_gone(service, consumer);
    co_return status_of(r);
  }

  awaitable<Result<std::vector<model::TrafficPolicy>>> policies() override {
    auto read = read_all();
    auto all = co_await std::move(read);
    if (!all) co_return all.error();
    co_return std::move(all->policies);
  }

  awaitable<Result<model::TrafficPolicy>> policy(std::string service) override {
    auto read = read_all();
    auto all = co_await std::move(read);
    if (!all) co_return all.error();
    for (auto& p : all->policies)
      if (p.service == service) co_return std::move(p);
    co_return policy_gone(service);
  }

  awaitable<Status> put_policy(model::TrafficPolicy policy) override {
    if (auto problems = model::validate_traffic_policy(policy); !problems.empty())
      co_return Error{ErrorKind::refused, "invalid_policy", model::join(problems)};
    json body{{"key", base64_encode(keys_.policy(policy.service))},
              {"value", base64_encode(policy_value(policy))}};
    auto put = members_.call("/v3/kv/put", body.dump());
    co_return status_of(co_await std::move(put));
  }

  awaitable<Status> delete_policy(std::string service) override {
    auto removal = remove(keys_.policy(service));
    auto r = co_await std::move(removal);
    if (r && *r == 0) co_return policy_gone(service);
    co_return status_of(r);
  }

 private:
  // Deletes one key; the number deleted (0 or 1).
  awaitable<Result<std::uint64_t>> remove(std::string key) {
    const std::string body = json{{"key", base64_encode(key)}}.dump();
    auto delete_range = members_.call("/v3/kv/deleterange", body);
    auto r = co_await std::move(delete_range);
    if (!r) co_return r.error();
    co_return number_field(*r, "deleted");
  }

  // Every key under the prefix, a page at a time, all pages at the first page's revision.
  awaitable<Result<Contents>> read_all() {
    Contents out;
    const std::string end = range_end(keys_.all());
    std::string from = keys_.all();
    for (;;) {
      json req{{"key", base64_encode(from)},
               {"range_end", base64_encode(end)},
               {"limit", std::to_string(kPageSize)}};
      if (out.revision) req["revision"] = std::to_string(out.revision);
      auto range = members_.call("/v3/kv/range", req.dump());
      auto r = co_await std::move(range);
      if (!r) co_return r.error();
      if (!out.revision) {
        out.revision = number_field(field(*r, "header"), "revision");
        out.cluster = string_field(field(*r, "header"), "cluster_id");
      }
      const json& kvs = field(*r, "kvs");
      std::string last_key;
      if (kvs.is_array()) {
        for (const auto& kv : kvs) {
          auto entry = read_entry(keys_, kv, false);
          if (auto key = base64_decode(string_field(kv, "key"))) last_key = std::move(*key);
          if (!entry) continue;
          if (!entry->problem.empty()) report_ignored(*entry);
          if (entry->instance) out.instances.push_back(std::move(*entry->instance));
          if (entry->route) out.routes.push_back(std::move(*entry->route));
          if (entry->policy) out.policies.push_back(std::move(*entry->policy));
        }
      }
      const bool more = bool_field(*r, "more");
      if (!more || last_key.empty()) break;
      from = last_key + '\0';  // the next page starts right after the last key seen
    }
    // The directory's order: by service, then id or consumer (etcd's byte order differs).
    std::sort(out.instances.begin(), out.instances.end(), [](const auto& a, const auto& b) {
      return std::tie(a.service, a.id) < std::tie(b.service, b.id);
    });
    std::sort(out.routes.begin(), out.routes.end(), [](const auto& a, const auto& b) {
      return std::tie(a.service, a.consumer) < std::tie(b.service, b.consumer);
    });
    co_return out;
  }

  static Error lease_gone(const std::string& id) {
    return Error{ErrorKind::not_found, "lease_not_found", "lease " + id + " is unknown or expired"};
  }
  static Error policy_gone(const std::string& service) {
    return Error{ErrorKind::not_found, "policy_not_found",
                 "service " + service + " has no traffic policy"};
  }
  static Error route_gone(const std::string& service, const std::string& consumer) {
    return Error{
        ErrorKind::not_found, "route_not_found",
        "service " + service + " has no route" +
            (consumer.empty() ? std::string(" for everyone") : " for consumer " + consumer)};
  }
  template <class T>
  static Status status_of(const Result<T>& r) {
    if (!r) return r.error();
    return Ok{};
  }

  DirectoryAddress address_;
  KeyLayout keys_;
  Members members_;
};

}  // namespace

std::unique_ptr<Registry> make_etcd_client(asio::any_io_executor ex,
                                           const DirectoryAddress& address,
                                           ClientSettings settings) {
  return std::make_unique<EtcdClient>(ex, address, std::move(settings));
}

}  // namespace dstack::registry
