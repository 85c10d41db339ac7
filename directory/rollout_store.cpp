// SPDX-License-Identifier: Apache-2.0
#include "directory/rollout_store.hpp"

#include "directory/rollout_log_format.hpp"

namespace dstack::directory {

RolloutStore RolloutStore::open(std::shared_ptr<DataDir> dir, RecordLogOptions options) {
  return RolloutStore(
      RecordLog::open(std::move(dir), "rollouts.log", rollout_log::format(), options));
}

RolloutStore::RolloutStore(RecordLog log) : log_(std::move(log)) {
  for (const auto& [key, payload] : log_.live()) {
    rollout_log::Op op;
    // The log read every live payload with this decoder when it loaded it: a failure now is a
    // bug, and dropping the rollout would lose its place silently.
    std::string why;
    if (!rollout_log::decode_payload(payload, op, &why))
      throw StoreError(log_.file().string() + ": a live record no longer decodes: " + why);
    rollouts_[op.rollout.spec.service] = op.rollout;
  }
}

std::error_code RolloutStore::put(const model::RolloutState& rollout) {
  std::string payload;
  if (!rollout_log::encode({false, rollout}, payload)) return StoreErrc::invalid_record;
  if (const auto ec = log_.append(payload)) return ec;
  rollouts_[rollout.spec.service] = rollout;
  return {};
}

std::error_code RolloutStore::remove(const std::string& service) {
  const auto it = rollouts_.find(service);
  if (it == rollouts_.end()) return {};
  rollout_log::Op op;
  op.remove = true;
  op.rollout.spec.service = service;
  std::string payload;
  if (!rollout_log::encode(op, payload)) return StoreErrc::invalid_record;
  if (const auto ec = log_.append(payload)) return ec;
  rollouts_.erase(it);
  return {};
}

}  // namespace dstack::directory
