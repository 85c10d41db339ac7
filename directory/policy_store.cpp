// SPDX-License-Identifier: Apache-2.0
#include "directory/policy_store.hpp"

#include "directory/policy_log_format.hpp"

namespace dstack::directory {

PolicyStore PolicyStore::open(std::shared_ptr<DataDir> dir, RecordLogOptions options) {
  return PolicyStore(
      RecordLog::open(std::move(dir), "policies.log", policy_log::format(), options));
}

PolicyStore::PolicyStore(RecordLog log) : log_(std::move(log)) {
  for (const auto& [key, payload] : log_.live()) {
    policy_log::Op op;
    // The log read every live payload with this decoder when it loaded it: a failure now is a
    // bug, and dropping the policy would lose it silently.
    std::string why;
    if (!policy_log::decode_payload(payload, op, &why))
      throw StoreError(log_.file().string() + ": a live record no longer decodes: " + why);
    policies_[op.policy.service] = op.policy;
  }
}

std::error_code PolicyStore::put(const model::TrafficPolicy& policy) {
  std::string payload;
  if (!policy_log::encode({false, policy}, payload)) return StoreErrc::invalid_record;
  if (const auto ec = log_.append(payload)) return ec;
  auto& stored = policies_[policy.service] = policy;
  stored.revision = 0;
  return {};
}

std::error_code PolicyStore::remove(const std::string& service) {
  const auto it = policies_.find(service);
  if (it == policies_.end()) return {};
  policy_log::Op op;
  op.remove = true;
  op.policy.service = service;
  std::string payload;
  if (!policy_log::encode(op, payload)) return StoreErrc::invalid_record;
  if (const auto ec = log_.append(payload)) return ec;
  policies_.erase(it);
  return {};
}

}  // namespace dstack::directory
