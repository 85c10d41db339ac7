// SPDX-License-Identifier: Apache-2.0
#include "directory/route_store.hpp"

#include "directory/route_log_format.hpp"

namespace dstack::directory {

RouteStore RouteStore::open(std::shared_ptr<DataDir> dir, RecordLogOptions options) {
  return RouteStore(RecordLog::open(std::move(dir), "routes.log", route_log::format(), options));
}

RouteStore RouteStore::open(const std::filesystem::path& dir, RecordLogOptions options) {
  return open(DataDir::open(dir), options);
}

RouteStore::RouteStore(RecordLog log) : log_(std::move(log)) {
  for (const auto& [key, payload] : log_.live()) {
    route_log::Op op;
    // The log read every live payload with this decoder when it loaded it: a failure now is a
    // bug, and dropping the route would lose it silently.
    std::string why;
    if (!route_log::decode_payload(payload, op, &why))
      throw StoreError(log_.file().string() + ": a live record no longer decodes: " + why);
    routes_[{op.route.service, op.route.consumer}] = op.route;
    previous_[{op.route.service, op.route.consumer}] = op.previous;
  }
}

std::error_code RouteStore::put(const model::Route& route, const route_log::Previous& previous) {
  std::string payload;
  if (!route_log::encode({false, route, previous}, payload)) return StoreErrc::invalid_record;
  if (const auto ec = log_.append(payload)) return ec;
  routes_[{route.service, route.consumer}] = route;
  previous_[{route.service, route.consumer}] = previous;
  return {};
}

route_log::Previous RouteStore::previous(const std::string& service,
                                         const std::string& consumer) const {
  const auto it = previous_.find({service, consumer});
  return it == previous_.end() ? route_log::Previous{} : it->second;
}

std::error_code RouteStore::remove(const std::string& service, const std::string& consumer) {
  const auto it = routes_.find({service, consumer});
  if (it == routes_.end()) return {};
  route_log::Op op{true, {}};
  op.route.service = service;
  op.route.consumer = consumer;
  std::string payload;
  if (!route_log::encode(op, payload)) return StoreErrc::invalid_record;
  if (const auto ec = log_.append(payload)) return ec;
  routes_.erase(it);
  previous_.erase({service, consumer});
  return {};
}

std::optional<model::Route> RouteStore::get(const std::string& service,
                                            const std::string& consumer) const {
  const auto it = routes_.find({service, consumer});
  if (it == routes_.end()) return std::nullopt;
  return it->second;
}

}  // namespace dstack::directory
