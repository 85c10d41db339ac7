// SPDX-License-Identifier: Apache-2.0
#include "common/registry/directory_client.hpp"

#include <nlohmann/json.hpp>

#include "common/core/duration.hpp"
#include "common/model/json.hpp"
#include "common/model/traffic_policy.hpp"
#include "common/registry/etcd_client.hpp"
#include "common/registry/watch_line.hpp"

namespace dstack::registry {

using nlohmann::json;

namespace {

// A failed answer as an Error, keeping the directory's own message when it sent one.
Error error_from(const net::ClientResponse& r, const std::string& authority) {
  Error e;
  e.status = r.status;
  auto body = json::parse(r.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_string()) {
    e.code = body["error"].get<std::string>();
    if (body.contains("message") && body["message"].is_string())
      e.message = body["message"].get<std::string>();
  } else {
    e.code = "http_" + std::to_string(r.status);
    e.message = authority + " answered " + std::to_string(r.status);
  }
  if (r.status == 401 || r.status == 403)
    e.kind = ErrorKind::unauthorized;
  else if (r.status == 404)
    e.kind = ErrorKind::not_found;
  else if (r.status == 410)
    e.kind = ErrorKind::stale;
  else if (r.status >= 400 && r.status < 500)
    e.kind = ErrorKind::refused;
  else
    e.kind = ErrorKind::server;
  return e;
}

Error protocol(const std::string& authority, const std::string& what) {
  return Error{ErrorKind::protocol, "bad_response", authority + ": " + what};
}

// The model's reading of an answer, or a protocol error naming what it refused.
template <class T>
Result<T> accepted(std::variant<T, model::Problems> parsed, const std::string& authority) {
  if (auto* problems = std::get_if<model::Problems>(&parsed))
    return protocol(authority, "answer refused: " + model::join(*problems));
  return std::get<T>(std::move(parsed));
}

// A token as /v1/tokens shows it (docs/api.md#tokens).
Result<TokenInfo> token_from_json(const json& j, const std::string& authority) {
  const auto time = [&](const char* key) -> std::optional<std::uint64_t> {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<std::uint64_t>();
  };
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("policies") ||
      !j["policies"].is_array() || !time("created"))
    return protocol(authority, "token answer lacks name, policies or created");
  TokenInfo t;
  t.name = j["name"].get<std::string>();
  for (const auto& p : j["policies"]) {
    if (!p.is_string()) return protocol(authority, "a token's policy is not a string");
    t.policies.push_back(p.get<std::string>());
  }
  t.created = *time("created");
  t.expires = time("expires");
  t.last_used = time("last_used");
  return t;
}

// Parses a successful JSON answer with one of model's parsers.
template <class T, class Parse>
Result<T> parse_with(const std::string& body, const std::string& authority, Parse parse) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return protocol(authority, "answer is not JSON");
  return accepted<T>(parse(j), authority);
}

template <class T, class Parse>
Result<std::vector<T>> parse_list(const json& items, const std::string& authority, Parse parse) {
  if (!items.is_array()) return protocol(authority, "expected a list");
  std::vector<T> out;
  out.reserve(items.size());
  for (auto& item : items) {
    auto parsed = parse(item);
    if (auto* problems = std::get_if<model::Problems>(&parsed))
      return protocol(authority, "answer refused: " + model::join(*problems));
    out.push_back(std::get<T>(std::move(parsed)));
  }
  return out;
}

// Parses an answer {"<member>": [...]}, each item with one of model's parsers.
template <class T, class Parse>
Result<std::vector<T>> parse_member_list(const std::string& body, const char* member,
                                         const std::string& authority, Parse parse) {
  const auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains(member))
    return protocol(authority, std::string("answer lacks \"") + member + "\"");
  return parse_list<T>(j[member], authority, parse);
}

std::string route_target(const std::string& service, const std::string& consumer) {
  return "/v1/routes/" + service + (consumer.empty() ? "" : "?consumer=" + consumer);
}

class DirectoryWatch final : public Watch {
 public:
  DirectoryWatch(std::unique_ptr<net::LineStream> stream, std::uint64_t since,
                 std::string authority)
      : stream_(std::move(stream)), revision_(since), authority_(std::move(authority)) {}

  awaitable<Result<model::Event>> next() override {
    for (;;) {
      auto next_line = stream_->next_line();
      auto line = co_await std::move(next_line);
      if (!line) co_return line.error();
      if (auto read = read_watch_line(*line, revision_, authority_)) co_return std::move(*read);
    }
  }
  std::uint64_t revision() const override { return revision_; }

 private:
  std::unique_ptr<net::LineStream> stream_;
  std::uint64_t revision_;
  std::string authority_;
};

class DirectoryClient final : public Registry {
 public:
  DirectoryClient(asio::any_io_executor ex, const DirectoryAddress& address, ClientSettings s)
      : address_(address), settings_(std::move(s)) {
    settings_.http.bearer_token = settings_.token;
    if (address.tls && !settings_.http.tls) settings_.http.tls = net::ClientTls{};
    if (!address.tls) settings_.http.tls.reset();
    const auto& ep = address.endpoints.front();
    http_ = std::make_unique<net::HttpClient>(ex, ep.host, ep.port, settings_.http);
  }

  std::string describe() const override { return address_.to_string(); }

  awaitable<Result<model::DirectoryHealth>> health() override {
    auto fetch = call("GET", "/v1/health");
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    co_return parse_with<model::DirectoryHealth>(*r, auth(), model::health_from_json);
  }

  awaitable<Result<model::Lease>> grant_lease(std::chrono::seconds ttl,
                                              std::string owner) override {
    json body{{"ttl", ttl.count()}, {"owner", owner}};
    auto post = call("POST", "/v1/leases", body.dump());
    auto r = co_await std::move(post);
    if (!r) co_return r.error();
    auto j = json::parse(*r, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string() || !j.contains("ttl") ||
        !j["ttl"].is_number_unsigned())
      co_return protocol(auth(), "lease answer lacks id or ttl");
    co_return model::Lease{j["id"].get<std::string>(),
                           std::chrono::seconds(j["ttl"].get<std::uint64_t>()), owner};
  }

  awaitable<Status> keepalive(std::string lease_id) override {
    auto put = call("PUT", "/v1/leases/" + lease_id);
    co_return status_of(co_await std::move(put));
  }
  awaitable<Status> revoke(std::string lease_id) override {
    auto del = call("DELETE", "/v1/leases/" + lease_id);
    co_return status_of(co_await std::move(del));
  }

  awaitable<Status> put_instance(model::Instance in) override {
    json body = model::to_json(in);
    for (auto key : {"service", "id", "revision"}) body.erase(key);
    auto put = call("PUT", "/v1/services/" + in.service + "/instances/" + in.id, body.dump());
    co_return status_of(co_await std::move(put));
  }
  awaitable<Status> delete_instance(std::string service, std::string id) override {
    auto del = call("DELETE", "/v1/services/" + service + "/instances/" + id);
    co_return status_of(co_await std::move(del));
  }

  awaitable<Result<std::vector<ServiceSummary>>> services() override {
    auto fetch = call("GET", "/v1/services");
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    auto j = json::parse(*r, nullptr, false);
    if (!j.is_object() || !j.contains("services") || !j["services"].is_array())
      co_return protocol(auth(), "services answer lacks \"services\"");
    std::vector<ServiceSummary> out;
    for (auto& s : j["services"]) {
      if (!s.is_object() || !s.contains("name") || !s["name"].is_string())
        co_return protocol(auth(), "service entry lacks a name");
      ServiceSummary summary{s["name"].get<std::string>(), 0, 0, 0};
      // Counts are optional, but one that is there must be a count: value<size_t>() would throw
      // on a string and wrap a negative number round.
      for (auto [key, count] : {std::pair{"instances", &summary.instances},
                                {"routable", &summary.routable},
                                {"routes", &summary.routes}}) {
        if (!s.contains(key)) continue;
        if (!s[key].is_number_unsigned())
          co_return protocol(
              auth(), "service entry \"" + summary.name + "\": \"" + key + "\" is not a count");
        *count = s[key].get<std::size_t>();
      }
      out.push_back(std::move(summary));
    }
    co_return out;
  }

  awaitable<Result<ServiceView>> service(std::string name) override {
    auto fetch = call("GET", "/v1/services/" + name);
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    auto j = json::parse(*r, nullptr, false);
    if (!j.is_object() || !j.contains("instances") || !j.contains("routes"))
      co_return protocol(auth(), "service answer lacks instances or routes");
    auto instances = parse_list<model::Instance>(j["instances"], auth(), model::instance_from_json);
    if (!instances) co_return instances.error();
    auto routes = parse_list<model::Route>(j["routes"], auth(), model::route_from_json);
    if (!routes) co_return routes.error();
    co_return ServiceView{name, std::move(*instances), std::move(*routes)};
  }

  awaitable<Result<model::Snapshot>> snapshot() override {
    auto fetch = call("GET", "/v1/snapshot");
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    co_return accepted<model::Snapshot>(model::snapshot_from_text(*r), auth());
  }

  awaitable<Result<std::unique_ptr<Watch>>> watch(std::uint64_t since, std::string epoch) override {
    std::string target = "/v1/watch?since=" + std::to_string(since);
    if (!epoch.empty()) target += "&epoch=" + epoch;
    auto open = http_->open_stream(target, settings_.watch_idle_timeout);
    auto opened = co_await std::move(open);
    if (!opened) co_return opened.error();
    if (opened->status != 200) co_return error_from({opened->status, opened->body}, auth());
    co_return std::unique_ptr<Watch>(
        std::make_unique<DirectoryWatch>(std::move(opened->stream), since, auth()));
  }

  awaitable<Result<std::vector<model::Route>>> routes(std::optional<std::string> service) override {
    // Built apart from the co_await: GCC 12 miscompiles a conditional temporary inside it.
    std::string target = "/v1/routes";
    if (service) target += "?service=" + *service;
    auto fetch = call("GET", target);
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    co_return parse_member_list<model::Route>(*r, "routes", auth(), model::route_from_json);
  }

  awaitable<Result<model::Route>> route(std::string service, std::string consumer) override {
    auto fetch = call("GET", route_target(service, consumer));
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    co_return parse_with<model::Route>(*r, auth(), model::route_from_json);
  }

  awaitable<Status> put_route(model::Route route) override {
    json targets = json::array();
    for (auto& t : route.targets) targets.push_back({{"version", t.version}, {"weight", t.weight}});
    json body{{"targets", targets}};
    auto put = call("PUT", route_target(route.service, route.consumer), body.dump());
    co_return status_of(co_await std::move(put));
  }

  awaitable<Status> delete_route(std::string service, std::string consumer) override {
    auto del = call("DELETE", route_target(service, consumer));
    co_return status_of(co_await std::move(del));
  }

  awaitable<Result<std::optional<model::Route>>> rollback_route(std::string service,
                                                                std::string consumer) override {
    auto post = call("POST", "/v1/routes/" + service + "/rollback" +
                                 (consumer.empty() ? "" : "?consumer=" + consumer));
    auto r = co_await std::move(post);
    if (!r) co_return r.error();
    // Back to no route: the answer is a DELETE's, {"revision"}.
    const json body = json::parse(*r, nullptr, false);
    if (body.is_object() && !body.contains("targets")) co_return std::optional<model::Route>{};
    auto route = parse_with<model::Route>(*r, auth(), model::route_from_json);
    if (!route) co_return route.error();
    co_return std::optional<model::Route>(std::move(*route));
  }

  awaitable<Result<std::vector<model::TrafficPolicy>>> policies() override {
    auto fetch = call("GET", "/v1/policies");
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    co_return parse_member_list<model::TrafficPolicy>(*r, "policies", auth(),
                                                      model::traffic_policy_from_json);
  }

  awaitable<Result<model::TrafficPolicy>> policy(std::string service) override {
    auto fetch = call("GET", "/v1/policies/" + service);
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    co_return parse_with<model::TrafficPolicy>(*r, auth(), model::traffic_policy_from_json);
  }

  awaitable<Status> put_policy(model::TrafficPolicy policy) override {
    auto put = call("PUT", "/v1/policies/" + policy.service, model::to_request_json(policy).dump());
    co_return status_of(co_await std::move(put));
  }

  awaitable<Status> delete_policy(std::string service) override {
    auto del = call("DELETE", "/v1/policies/" + service);
    co_return status_of(co_await std::move(del));
  }

  awaitable<Result<model::Consumer>> put_consumer(model::Consumer consumer) override {
    json body{{"lease", consumer.lease},
              {"host", consumer.host},
              {"api", consumer.api},
              {"services", consumer.services}};
    auto put = call("PUT", "/v1/consumers/" + consumer.name, body.dump());
    auto r = co_await std::move(put);
    if (!r) co_return r.error();
    co_return parse_with<model::Consumer>(*r, auth(), model::consumer_from_json);
  }

  awaitable<Status> report_traffic(std::string consumer, model::TrafficReport report) override {
    auto put = call("PUT", "/v1/consumers/" + consumer + "/traffic", model::to_json(report).dump());
    co_return status_of(co_await std::move(put));
  }

  awaitable<Result<std::vector<model::Consumer>>> consumers() override {
    auto fetch = call("GET", "/v1/consumers");
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    co_return parse_member_list<model::Consumer>(*r, "consumers", auth(),
                                                 model::consumer_from_json);
  }

  awaitable<Result<model::TrafficView>> traffic(TrafficQuery q) override {
    // Names are checked by the caller (they are [a-z0-9-.] and need no escaping).
    std::string target = "/v1/traffic";
    auto param = [&](const char* key, const std::string& value) {
      target +=
          (target.find('?') == std::string::npos ? "?" : "&") + std::string(key) + "=" + value;
    };
    if (q.service) param("service", *q.service);
    if (q.window) param("window", format_duration(*q.window));
    if (q.consumer) param("consumer", *q.consumer);
    auto fetch = call("GET", target);
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    co_return parse_with<model::TrafficView>(*r, auth(), model::traffic_view_from_json);
  }

  awaitable<Result<std::vector<model::RolloutView>>> rollouts() override {
    auto fetch = call("GET", "/v1/rollouts");
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    co_return parse_member_list<model::RolloutView>(*r, "rollouts", auth(),
                                                    model::rollout_view_from_json);
  }

  awaitable<Result<model::RolloutView>> rollout(std::string service) override {
    auto fetch = call("GET", "/v1/rollouts/" + service);
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    co_return parse_with<model::RolloutView>(*r, auth(), model::rollout_view_from_json);
  }

  awaitable<Result<model::RolloutView>> start_rollout(model::RolloutSpec spec) override {
    auto put = call("PUT", "/v1/rollouts/" + spec.service, model::to_request_json(spec).dump());
    auto r = co_await std::move(put);
    if (!r) co_return r.error();
    co_return parse_with<model::RolloutView>(*r, auth(), model::rollout_view_from_json);
  }

  awaitable<Result<model::RolloutView>> rollout_command(std::string service,
                                                        std::string command) override {
    auto post = call("POST", "/v1/rollouts/" + service + "/" + command);
    auto r = co_await std::move(post);
    if (!r) co_return r.error();
    co_return parse_with<model::RolloutView>(*r, auth(), model::rollout_view_from_json);
  }

  awaitable<Status> delete_rollout(std::string service) override {
    auto del = call("DELETE", "/v1/rollouts/" + service);
    co_return status_of(co_await std::move(del));
  }

  awaitable<Result<NewToken>> create_token(std::string name, std::vector<std::string> policies,
                                           std::optional<std::int64_t> ttl_seconds) override {
    json body{{"name", name}, {"policies", policies}};
    if (ttl_seconds) body["ttl"] = *ttl_seconds;
    auto post = call("POST", "/v1/tokens", body.dump());
    auto r = co_await std::move(post);
    if (!r) co_return r.error();
    auto j = json::parse(*r, nullptr, false);
    auto token = token_from_json(j, auth());
    if (!token) co_return token.error();
    if (!j.contains("secret") || !j["secret"].is_string())
      co_return protocol(auth(), "token answer lacks its secret");
    co_return NewToken{std::move(*token), j["secret"].get<std::string>()};
  }

  awaitable<Result<std::vector<TokenInfo>>> tokens() override {
    auto fetch = call("GET", "/v1/tokens");
    auto r = co_await std::move(fetch);
    if (!r) co_return r.error();
    auto j = json::parse(*r, nullptr, false);
    if (!j.is_object() || !j.contains("tokens") || !j["tokens"].is_array())
      co_return protocol(auth(), "tokens answer lacks \"tokens\"");
    std::vector<TokenInfo> out;
    for (const auto& t : j["tokens"]) {
      auto token = token_from_json(t, auth());
      if (!token) co_return token.error();
      out.push_back(std::move(*token));
    }
    co_return out;
  }

  awaitable<Status> revoke_token(std::string name) override {
    auto del = call("DELETE", "/v1/tokens/" + name);
    co_return status_of(co_await std::move(del));
  }

 private:
  const std::string& auth() const { return http_->authority(); }

  // The body of a 2xx answer, or the error it stands for.
  awaitable<Result<std::string>> call(std::string method, std::string target,
                                      std::string body = {}) {
    auto request = http_->request(std::move(method), std::move(target), std::move(body));
    auto r = co_await std::move(request);
    if (!r) co_return r.error();
    if (r->status < 200 || r->status >= 300) co_return error_from(*r, auth());
    co_return std::move(r->body);
  }

  static Status status_of(const Result<std::string>& r) {
    if (!r) return r.error();
    return Ok{};
  }

  DirectoryAddress address_;
  ClientSettings settings_;
  std::unique_ptr<net::HttpClient> http_;
};

}  // namespace

ClientSettings client_settings(std::string token, std::string ca_file, std::string cert,
                               std::string key) {
  ClientSettings settings;
  settings.token = std::move(token);
  if (!ca_file.empty() || !cert.empty())
    settings.http.tls = net::ClientTls{std::move(ca_file), true, std::move(cert), std::move(key)};
  return settings;
}

std::unique_ptr<Registry> make_directory_client(asio::any_io_executor ex,
                                                const DirectoryAddress& address,
                                                ClientSettings settings) {
  return std::make_unique<DirectoryClient>(ex, address, std::move(settings));
}

std::unique_ptr<Registry> make_registry(asio::any_io_executor ex, const DirectoryAddress& address,
                                        ClientSettings settings) {
  if (address.kind == DirectoryAddress::Kind::etcd)
    return make_etcd_client(ex, address, std::move(settings));
  return make_directory_client(ex, address, std::move(settings));
}

}  // namespace dstack::registry
