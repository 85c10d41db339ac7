// SPDX-License-Identifier: Apache-2.0
#include "bench/target.hpp"

#include <nlohmann/json.hpp>

namespace dstack::bench {

namespace {

const std::string kPrefix = "/dstack/instances/";
const std::string kUrl = "http://10.0.0.1:8080/x";

std::string etcd_key(const std::string& service, const std::string& id) {
  return kPrefix + service + "/" + id;
}

// The end of etcd's range for "every key that starts with `prefix`".
std::string prefix_end(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

}  // namespace

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16 |
                 static_cast<unsigned char>(bytes[i + 1]) << 8 |
                 static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (auto rest = bytes.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void Target::health(std::string& out) const {
  if (kind_ == Kind::directory)
    append_request(out, "GET", "/v1/health", host_, {}, authorization_);
  else
    append_request(out, "GET", "/health", host_, {}, authorization_);
}

void Target::grant(std::string& out, int ttl) const {
  auto t = std::to_string(ttl);
  if (kind_ == Kind::directory)
    append_request(out, "POST", "/v1/leases", host_, "{\"ttl\":" + t + ",\"owner\":\"bench\"}",
                   authorization_);
  else
    append_request(out, "POST", "/v3/lease/grant", host_, "{\"TTL\":" + t + "}", authorization_);
}

std::optional<std::string> Target::lease_id(const Response& r) const {
  if (r.status / 100 != 2) return std::nullopt;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  const char* field = kind_ == Kind::directory ? "id" : "ID";
  if (!j.is_object() || !j.contains(field) || !j[field].is_string()) return std::nullopt;
  return j[field].get<std::string>();
}

void Target::keepalive(std::string& out, const std::string& lease) const {
  if (kind_ == Kind::directory)
    append_request(out, "PUT", "/v1/leases/" + lease, host_, {}, authorization_);
  else
    append_request(out, "POST", "/v3/lease/keepalive", host_, "{\"ID\":\"" + lease + "\"}",
                   authorization_);
}

bool Target::keepalive_ok(const Response& r) const {
  if (r.status != 200) return false;
  // etcd's gateway answers 200 for a lease it no longer knows, without a positive TTL.
  return kind_ == Kind::directory || (r.body.find("\"TTL\":\"") != std::string::npos &&
                                      r.body.find("\"TTL\":\"-") == std::string::npos &&
                                      r.body.find("\"error\"") == std::string::npos);
}

std::string Target::instance_json(const std::string& service, const std::string& id,
                                  const std::string& lease, const std::string& version) const {
  return "{\"service\":\"" + service + "\",\"id\":\"" + id + "\",\"lease\":\"" + lease +
         "\",\"url\":\"" + kUrl + "\",\"version\":\"" + version +
         "\",\"weight\":100,\"health\":\"passing\",\"tags\":[],\"meta\":{}}";
}

void Target::put_instance(std::string& out, const std::string& service, const std::string& id,
                          const std::string& lease, const std::string& version) const {
  if (kind_ == Kind::directory) {
    append_request(
        out, "PUT", "/v1/services/" + service + "/instances/" + id, host_,
        "{\"lease\":\"" + lease + "\",\"url\":\"" + kUrl + "\",\"version\":\"" + version + "\"}",
        authorization_);
    return;
  }
  append_request(out, "POST", "/v3/kv/put", host_,
                 "{\"key\":\"" + base64(etcd_key(service, id)) + "\",\"value\":\"" +
                     base64(instance_json(service, id, lease, version)) + "\",\"lease\":\"" +
                     lease + "\"}",
                 authorization_);
}

void Target::put_instance(std::string& out, const std::string& service, const std::string& id,
                          const std::string& lease, const std::string& url,
                          const std::string& version, int weight) const {
  const std::string body = nlohmann::json{
      {"lease", lease},
      {"url", url},
      {"version", version},
      {"weight", weight}}.dump();
  if (kind_ == Kind::directory) {
    append_request(out, "PUT", "/v1/services/" + service + "/instances/" + id, host_, body,
                   authorization_);
    return;
  }
  append_request(out, "POST", "/v3/kv/put", host_,
                 "{\"key\":\"" + base64(etcd_key(service, id)) + "\",\"value\":\"" + base64(body) +
                     "\",\"lease\":\"" + lease + "\"}",
                 authorization_);
}

void Target::delete_instance(std::string& out, const std::string& service,
                             const std::string& id) const {
  if (kind_ == Kind::directory) {
    append_request(out, "DELETE", "/v1/services/" + service + "/instances/" + id, host_, {},
                   authorization_);
    return;
  }
  append_request(out, "POST", "/v3/kv/deleterange", host_,
                 "{\"key\":\"" + base64(etcd_key(service, id)) + "\"}", authorization_);
}

void Target::watch(std::string& out) const {
  if (kind_ == Kind::directory) {
    append_request(out, "GET", "/v1/watch", host_, {}, authorization_);
    return;
  }
  append_request(out, "POST", "/v3/watch", host_,
                 "{\"create_request\":{\"key\":\"" + base64(kPrefix) + "\",\"range_end\":\"" +
                     base64(prefix_end(kPrefix)) + "\"}}",
                 authorization_);
}

bool Target::ready_line(std::string_view line) const {
  return line.find("\"created\":true") != std::string_view::npos;
}

std::string Target::marker(const std::string& service, const std::string& id,
                           const std::string& lease, const std::string& version) const {
  if (kind_ == Kind::directory) return "\"version\":\"" + version + "\"";
  return base64(instance_json(service, id, lease, version));
}

}  // namespace dstack::bench
