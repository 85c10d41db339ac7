#include "common/registry/etcd_client.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/log/log.hpp"
#include "common/model/json.hpp"
#include "common/model/validate.hpp"
#include "common/net/http_client.hpp"
#include "common/registry/etcd_entries.hpp"
#include "common/registry/etcd_keys.hpp"

namespace dstack::registry {

using nlohmann::json;
using namespace etcd;

namespace {

// gRPC status codes etcd's gateway puts in "code".
enum GrpcCode {
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kOutOfRange = 11,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

constexpr std::size_t kPageSize = 1000;  // keys per range request: bounds every answer
// The most one member may take before the next is asked. Well under a third of a lease TTL, so
// a member that accepts connections but never answers (stopped, overloaded) cannot make a
// watson's keepalive late enough to lose its lease.
constexpr Duration kMemberConnectTimeout = std::chrono::seconds(1);
constexpr Duration kMemberRequestTimeout = std::chrono::seconds(2);

struct Failure {
  int code = -1;
  std::string message;
};

Failure failure_of(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  Failure f;
  if (!j.is_object()) return f;
  // Unary answers: {"error","message","code"}; streams: {"error":{"grpc_code","message",...}}.
  const json& e = j.contains("error") && j["error"].is_object() ? j["error"] : j;
  if (e.contains("code") && e["code"].is_number_integer()) f.code = e["code"].get<int>();
  if (e.contains("grpc_code") && e["grpc_code"].is_number_integer())
    f.code = e["grpc_code"].get<int>();
  f.message = string_field(e, "message");
  return f;
}

Error etcd_error(int status, const std::string& body, const std::string& authority,
                 const std::string& what) {
  auto f = failure_of(body);
  Error e;
  e.status = status;
  e.code = "etcd_" + std::to_string(f.code);
  e.message = authority + ": " + what + ": " +
              (f.message.empty() ? "answered " + std::to_string(status) : f.message);
  switch (f.code) {
    case kNotFound:
      e.kind = ErrorKind::not_found;
      break;
    case kPermissionDenied:
    case kUnauthenticated:
      e.kind = ErrorKind::unauthorized;
      break;
    case kOutOfRange:
      e.kind = ErrorKind::stale;
      break;
    case kUnavailable:
    case kDeadlineExceeded:
      e.kind = ErrorKind::unreachable;  // this member cannot serve now: try the next one
      break;
    case kResourceExhausted:
      e.kind = ErrorKind::server;  // overloaded or out of space: retry later, the input is fine
      break;
    case kInvalidArgument:
      // etcd says "user name is empty" when auth is on and the request carries no token, and
      // "auth store is old" when roles changed since the token was given (take a new one).
      if (f.message.find("user name is empty") != std::string::npos) {
        e.kind = ErrorKind::unauthorized;
        e.message += " (the cluster requires authentication: a token file holding USER:PASSWORD)";
      } else if (f.message.find("auth store is old") != std::string::npos) {
        e.kind = ErrorKind::unauthorized;
      } else {
        e.kind = ErrorKind::refused;
      }
      break;
    default:
      e.kind = status >= 500 ? ErrorKind::server : ErrorKind::refused;
  }
  return e;
}

Error protocol(const std::string& authority, const std::string& what) {
  return Error{ErrorKind::protocol, "bad_response", authority + ": " + what};
}

void report(const Entry& entry) {
  log::get("etcd")->warn("{}: ignored: {}", entry.key_text, entry.problem);
}

struct Member {
  std::unique_ptr<net::HttpClient> http;
  bool authenticated = false;
};

// Everything under the prefix at one revision.
struct Contents {
  std::uint64_t revision = 0;
  std::string cluster;  // etcd's cluster id: the epoch revisions belong to
  std::vector<model::Instance> instances;
  std::vector<model::Route> routes;
};

class EtcdClient;

class EtcdWatch final : public Watch {
 public:
  EtcdWatch(EtcdClient& client, std::uint64_t since, std::string epoch)
      : client_(client), revision_(since), epoch_(std::move(epoch)) {}
  ~EtcdWatch() override {
    if (stream_) stream_->close();
  }

  awaitable<Result<model::Event>> next() override;
  std::uint64_t revision() const override { return revision_; }

  // Opens the first stream, so that watch() itself reports an unreachable cluster.
  awaitable<Status> open();

 private:
  // One line of the stream; an event or two may land in pending_.
  awaitable<Status> read_line(const std::string& line);

  EtcdClient& client_;
  std::unique_ptr<net::LineStream> stream_;
  std::deque<model::Event> pending_;  // events of an answer not handed out yet
  std::uint64_t revision_;            // everything up to here is in pending_ or handed out
  std::string epoch_;
  int quiet_failures_ = 0;  // streams in a row that ended before saying anything
};

class EtcdClient final : public Registry {
 public:
  EtcdClient(asio::any_io_executor ex, const DirectoryAddress& address, ClientSettings s)
      : address_(address), keys_(address.prefix), settings_(std::move(s)) {
    net::ClientOptions http = settings_.http;
    http.bearer_token.clear();
    http.connect_timeout = std::min(http.connect_timeout, kMemberConnectTimeout);
    http.request_timeout = std::min(http.request_timeout, kMemberRequestTimeout);
    if (address.tls && !http.tls) http.tls = net::ClientTls{};
    if (!address.tls) http.tls.reset();
    // Ask etcd to fail a request, and to cancel a watch, when the member has lost its leader:
    // a partitioned member would otherwise serve a watch that never sees another event.
    http.headers.emplace_back("Grpc-Metadata-hasleader", "true");
    for (const auto& ep : address.endpoints)
      members_.push_back({std::make_unique<net::HttpClient>(ex, ep.host, ep.port, http), false});
    if (!settings_.token.empty()) {
      auto colon = settings_.token.find(':');
      if (colon == std::string::npos || colon == 0)
        throw std::runtime_error(
            "for an etcd directory the token file holds USER:PASSWORD (etcd's user and password)");
      user_ = settings_.token.substr(0, colon);
      password_ = settings_.token.substr(colon + 1);
    }
  }

  std::string describe() const override { return address_.to_string(); }

  awaitable<Result<model::DirectoryHealth>> health() override {
    auto r = co_await call("/v3/maintenance/status", "{}");
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
    auto r = co_await call("/v3/lease/grant", body);
    if (!r) co_return r.error();
    auto id = string_field(*r, "ID");
    auto granted = number_field(*r, "TTL");
    if (id.empty() || granted == 0) co_return protocol(authority(), "lease answer lacks ID or TTL");
    co_return model::Lease{id, std::chrono::seconds(granted), std::move(owner)};
  }

  awaitable<Status> keepalive(std::string lease_id) override {
    const std::string body = json{{"ID", lease_id}}.dump();
    auto r = co_await call("/v3/lease/keepalive", body);
    if (!r) co_return r.error();
    // An unknown or expired lease is answered with no TTL, not with an error.
    if (number_field(field(*r, "result"), "TTL") == 0) co_return lease_gone(lease_id);
    co_return Ok{};
  }

  awaitable<Status> revoke(std::string lease_id) override {
    const std::string body = json{{"ID", lease_id}}.dump();
    auto r = co_await call("/v3/lease/revoke", body);
    if (!r && r.error().kind == ErrorKind::not_found) co_return lease_gone(lease_id);
    co_return status_of(r);
  }

  awaitable<Status> put_instance(model::Instance in) override {
    if (auto problems = model::validate_instance(in); !problems.empty())
      co_return Error{ErrorKind::refused, "invalid_instance", model::join(problems)};
    json body{{"key", base64_encode(keys_.instance(in.service, in.id))},
              {"value", base64_encode(instance_value(in))}};
    if (!in.lease.empty()) body["lease"] = in.lease;
    auto r = co_await call("/v3/kv/put", body.dump());
    if (!r && r.error().kind == ErrorKind::not_found) co_return lease_gone(in.lease);
    co_return status_of(r);
  }

  awaitable<Status> delete_instance(std::string service, std::string id) override {
    auto r = co_await remove(keys_.instance(service, id));
    if (r && *r == 0)
      co_return Error{ErrorKind::not_found, "instance_not_found",
                      "service " + service + " has no instance " + id};
    co_return status_of(r);
  }

  awaitable<Result<std::vector<ServiceSummary>>> services() override {
    auto all = co_await read_all();
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
    auto all = co_await read_all();
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
    auto all = co_await read_all();
    if (!all) co_return all.error();
    model::Snapshot snap;
    snap.revision = all->revision;
    snap.epoch = std::move(all->cluster);
    snap.synced = true;
    snap.instances = std::move(all->instances);
    snap.routes = std::move(all->routes);
    co_return snap;
  }

  awaitable<Result<std::unique_ptr<Watch>>> watch(std::uint64_t since, std::string epoch) override {
    auto w = std::make_unique<EtcdWatch>(*this, since, std::move(epoch));
    auto opened = co_await w->open();
    if (!opened) co_return opened.error();
    co_return std::unique_ptr<Watch>(std::move(w));
  }

  awaitable<Result<std::vector<model::Route>>> routes(std::optional<std::string> service) override {
    auto all = co_await read_all();
    if (!all) co_return all.error();
    std::vector<model::Route> out;
    for (auto& route : all->routes)
      if (!service || route.service == *service) out.push_back(std::move(route));
    co_return out;
  }

  awaitable<Result<model::Route>> route(std::string service, std::string consumer) override {
    auto all = co_await read_all();
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
    co_return status_of(co_await call("/v3/kv/put", body.dump()));
  }

  awaitable<Status> delete_route(std::string service, std::string consumer) override {
    auto r = co_await remove(keys_.route(service, consumer));
    if (r && *r == 0) co_return route_gone(service, consumer);
    co_return status_of(r);
  }

  // ---- for EtcdWatch ----

  // A watch stream from `from` on the first member that opens one.
  awaitable<Result<std::unique_ptr<net::LineStream>>> open_stream(std::uint64_t from) {
    json create{{"key", base64_encode(keys_.all())},
                {"range_end", base64_encode(range_end(keys_.all()))},
                {"start_revision", std::to_string(from)},
                {"progress_notify", true}};
    const std::string body = json{{"create_request", create}}.dump();
    Error last;
    for (std::size_t tried = 0; tried < members_.size(); ++tried) {
      auto r = co_await open_on(members_[current_], body);
      if (r || r.error().kind != ErrorKind::unreachable) co_return r;
      last = r.error();
      next_member();
    }
    co_return none_answered(last);
  }

  void next_member() { current_ = (current_ + 1) % members_.size(); }
  // The member serving the watch refused its token: take a new one before the next stream.
  void forget_token() { members_[current_].authenticated = false; }
  const std::string& authority() const { return members_[current_].http->authority(); }
  const KeyLayout& keys() const { return keys_; }

 private:
  awaitable<Result<std::unique_ptr<net::LineStream>>> open_on(Member& m, std::string body) {
    for (int attempt = 0;; ++attempt) {
      if (auto st = co_await authenticate(m); !st) co_return st.error();
      auto opened =
          co_await m.http->open_stream("POST", "/v3/watch", body, settings_.watch_idle_timeout);
      if (!opened) co_return opened.error();
      if (opened->status == 200) co_return std::move(opened->stream);
      auto e = etcd_error(opened->status, opened->body, m.http->authority(), "watch");
      if (attempt == 0 && token_rejected(m, e)) continue;
      co_return e;
    }
  }

  // The answer of the first member that gives one; members that cannot serve are skipped.
  awaitable<Result<json>> call(std::string path, std::string body) {
    Error last;
    for (std::size_t tried = 0; tried < members_.size(); ++tried) {
      auto r = co_await call_on(members_[current_], path, body);
      if (r || r.error().kind != ErrorKind::unreachable) co_return r;
      last = r.error();
      next_member();
    }
    co_return none_answered(last);
  }

  awaitable<Result<json>> call_on(Member& m, std::string path, std::string body) {
    for (int attempt = 0;; ++attempt) {
      if (auto st = co_await authenticate(m); !st) co_return st.error();
      auto r = co_await m.http->request("POST", path, body);
      if (!r) co_return r.error();
      if (r->status == 200) {
        auto j = json::parse(r->body, nullptr, false);
        if (!j.is_object()) co_return protocol(m.http->authority(), path + ": answer is not JSON");
        co_return j;
      }
      auto e = etcd_error(r->status, r->body, m.http->authority(), path);
      if (attempt == 0 && token_rejected(m, e)) continue;
      co_return e;
    }
  }

  // A token a member no longer takes (expired, or the member restarted) is taken again once.
  bool token_rejected(Member& m, const Error& e) {
    if (user_.empty() || e.kind != ErrorKind::unauthorized) return false;
    m.authenticated = false;
    return true;
  }

  awaitable<Status> authenticate(Member& m) {
    if (user_.empty() || m.authenticated) co_return Ok{};
    m.http->set_header("Authorization", "");
    json body{{"name", user_}, {"password", password_}};
    auto r = co_await m.http->request("POST", "/v3/auth/authenticate", body.dump());
    if (!r) co_return r.error();
    if (r->status != 200) {
      auto e = etcd_error(r->status, r->body, m.http->authority(), "authenticate as " + user_);
      if (failure_of(r->body).code == kFailedPrecondition) {
        // "authentication is not enabled": the cluster takes requests without a token.
        m.authenticated = true;
        co_return Ok{};
      }
      if (e.kind == ErrorKind::refused) e.kind = ErrorKind::unauthorized;
      co_return e;
    }
    auto token = string_field(json::parse(r->body, nullptr, false), "token");
    if (token.empty()) co_return protocol(m.http->authority(), "authenticate answer lacks a token");
    m.http->set_header("Authorization", token);
    m.authenticated = true;
    co_return Ok{};
  }

  Error none_answered(Error last) const {
    if (members_.size() > 1)
      last.message = "no member of " + describe() + " answered; last: " + last.message;
    return last;
  }

  // Deletes one key; the number deleted (0 or 1).
  awaitable<Result<std::uint64_t>> remove(std::string key) {
    const std::string body = json{{"key", base64_encode(key)}}.dump();
    auto r = co_await call("/v3/kv/deleterange", body);
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
      auto r = co_await call("/v3/kv/range", req.dump());
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
          if (!entry->problem.empty()) report(*entry);
          if (entry->instance) out.instances.push_back(std::move(*entry->instance));
          if (entry->route) out.routes.push_back(std::move(*entry->route));
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
  ClientSettings settings_;
  std::vector<Member> members_;
  std::size_t current_ = 0;  // the member asked first: the one that answered last
  std::string user_, password_;
};

awaitable<Status> EtcdWatch::open() {
  auto s = co_await client_.open_stream(revision_ + 1);
  if (!s) co_return s.error();
  stream_ = std::move(*s);
  co_return Ok{};
}

awaitable<Result<model::Event>> EtcdWatch::next() {
  for (;;) {
    if (!pending_.empty()) {
      auto e = std::move(pending_.front());
      pending_.pop_front();
      co_return e;
    }
    if (!stream_) {
      // Reopened from the last revision handed out: nothing is missed, nothing replayed.
      auto st = co_await open();
      if (!st) co_return st.error();
    }
    auto line = co_await stream_->next_line();
    if (!line) {
      // Idle, dropped, or the member died: open again (on the next member if this one is gone).
      // Two streams in a row that end before saying anything go back to the caller instead.
      stream_->close();
      stream_.reset();
      if (line.error().kind == ErrorKind::protocol || ++quiet_failures_ >= 2)
        co_return line.error();
      continue;
    }
    if (line->empty()) continue;
    auto st = co_await read_line(*line);
    if (!st) {
      if (stream_) stream_->close();
      stream_.reset();
      co_return st.error();
    }
  }
}

awaitable<Status> EtcdWatch::read_line(const std::string& line) {
  auto j = json::parse(line, nullptr, false);
  if (!j.is_object()) co_return protocol(client_.authority(), "watch line is not JSON");
  if (j.contains("error")) {
    // The member failed the stream (it lost its leader, say): go on from the next member.
    auto f = failure_of(line);
    Error e{ErrorKind::unreachable, "watch_failed",
            client_.authority() + ": watch ended: " + f.message};
    log::get("etcd")->info("{}; going on from the next member", e.message);
    stream_->close();
    stream_.reset();
    client_.next_member();
    if (++quiet_failures_ >= 2) co_return e;
    co_return Ok{};
  }
  const json& result = field(j, "result");
  const json& header = field(result, "header");
  if (bool_field(result, "canceled")) {
    if (auto compacted = number_field(result, "compact_revision"))
      co_return Error{ErrorKind::stale, "compacted",
                      "revision " + std::to_string(revision_) +
                          " is compacted away (etcd keeps revisions from " +
                          std::to_string(compacted) + ")"};
    const auto reason = string_field(result, "cancel_reason");
    Error e{ErrorKind::unreachable, "watch_canceled",
            client_.authority() + ": watch canceled: " + reason};
    // A token the member no longer takes (its TTL ran out while nothing used it) cancels the
    // watch as it is created: take a new token and open again, once.
    for (const char* auth : {"Unauthenticated", "invalid auth token", "user name is empty",
                             "auth store is old", "PermissionDenied", "permission denied"}) {
      if (reason.find(auth) == std::string::npos) continue;
      e.kind = ErrorKind::unauthorized;
      client_.forget_token();
      stream_->close();
      stream_.reset();
      if (++quiet_failures_ >= 2) co_return e;
      co_return Ok{};
    }
    co_return e;
  }
  quiet_failures_ = 0;
  if (bool_field(result, "created")) {
    auto cluster = string_field(header, "cluster_id");
    if (!epoch_.empty() && cluster != epoch_)
      co_return Error{ErrorKind::stale, "other_cluster",
                      "etcd cluster " + cluster + " is not cluster " + epoch_ + " that revision " +
                          std::to_string(revision_) + " came from"};
    co_return Ok{};
  }
  const json& events = field(result, "events");
  if (!events.is_array() || events.empty()) {
    // A progress notification: everything up to its revision has been sent.
    revision_ = std::max(revision_, number_field(header, "revision"));
    co_return Ok{};
  }
  // An answer carries whole revisions, up to its last event's; not up to its header's, which
  // during a catch-up (1,000 revisions an answer) already names the newest revision. Events at
  // or below what was handed out already are dropped: etcd 3.4 has been seen to send some again
  // on a watch resumed on a lagging member, and applying them would undo later changes.
  const std::uint64_t handed_out = revision_;
  for (const auto& ev : events) {
    const json& kv = field(ev, "kv");
    const auto revision = number_field(kv, "mod_revision");
    if (revision <= handed_out) continue;
    revision_ = std::max(revision_, revision);
    auto entry = read_entry(client_.keys(), kv, string_field(ev, "type") == "DELETE");
    if (!entry || !entry->names_valid) {
      if (entry) report(*entry);
      continue;
    }
    if (!entry->problem.empty()) report(*entry);
    pending_.push_back(to_event(std::move(*entry)));
  }
  co_return Ok{};
}

}  // namespace

std::unique_ptr<Registry> make_etcd_client(asio::any_io_executor ex,
                                           const DirectoryAddress& address,
                                           ClientSettings settings) {
  return std::make_unique<EtcdClient>(ex, address, std::move(settings));
}

}  // namespace dstack::registry
