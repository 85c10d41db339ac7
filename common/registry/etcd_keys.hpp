// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where dstack keeps its state in etcd (docs/etcd.md#key-layout), and the base64 etcd's JSON
// gateway wants for keys and values:
//   PREFIX/instances/SVC/ID   an instance, value as the body of PUT /v1/services/SVC/instances/ID
//   PREFIX/routes/SVC         the route for everyone, value {"targets":[...]}
//   PREFIX/routes/SVC/CONSUMER  the route for one consumer
//   PREFIX/policies/SVC       the service's traffic policy, value as the body of PUT
//                             /v1/policies/SVC
// Names are not checked here: parse() only splits, the model validates what it splits out.

#include <optional>
#include <string>
#include <string_view>

namespace dstack::registry::etcd {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not base64.
std::optional<std::string> base64_decode(std::string_view text);

// The first key after every key that starts with `prefix`: a range [prefix, range_end(prefix))
// holds exactly the keys under it.
std::string range_end(std::string prefix);

struct ParsedKey {
  enum class Kind { instance, route, policy };
  Kind kind = Kind::instance;
  std::string service;
  std::string name;  // the instance id, or the route's consumer (empty: everyone); policy: empty
};

class KeyLayout {
 public:
  explicit KeyLayout(std::string prefix) : prefix_(std::move(prefix)) {}

  std::string all() const { return prefix_ + "/"; }
  std::string instances() const { return prefix_ + "/instances/"; }
  std::string routes() const { return prefix_ + "/routes/"; }
  std::string policies() const { return prefix_ + "/policies/"; }
  std::string instance(const std::string& service, const std::string& id) const {
    return instances() + service + "/" + id;
  }
  std::string route(const std::string& service, const std::string& consumer) const {
    return routes() + service + (consumer.empty() ? "" : "/" + consumer);
  }
  std::string policy(const std::string& service) const { return policies() + service; }
  // nullopt for keys under the prefix that are none of these (left alone, never an error).
  std::optional<ParsedKey> parse(std::string_view key) const;

 private:
  std::string prefix_;
};

}  // namespace dstack::registry::etcd
