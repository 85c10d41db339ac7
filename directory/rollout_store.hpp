// SPDX-License-Identifier: Apache-2.0
#pragma once
// RolloutStore: the directory's rollouts (one per service, with the step each is on), kept in
// `<dir>/rollouts.log`, a RecordLog (record_log.hpp: the write, recovery and compaction contract)
// of rollout records (rollout_log_format.hpp). put()/remove() return success only once the
// record is on disk; only then does rollouts() change. Rollouts (rollouts.hpp) writes it.

#include <map>
#include <memory>
#include <string>
#include <system_error>

#include "common/model/rollout.hpp"
#include "directory/record_log.hpp"

namespace dstack::directory {

class RolloutStore {
 public:
  using Recovery = RecordLog::Recovery;

  // In a data directory the directory shares with its other stores. Throws StoreError.
  static RolloutStore open(std::shared_ptr<DataDir> dir, RecordLogOptions options = {});

  // Insert or replace the rollout of its service. StoreErrc::invalid_record for a rollout the
  // log could not load again.
  [[nodiscard]] std::error_code put(const model::RolloutState& rollout);
  // Removing a rollout that does not exist succeeds without writing anything.
  [[nodiscard]] std::error_code remove(const std::string& service);

  const std::map<std::string, model::RolloutState>& rollouts() const { return rollouts_; }

  const Recovery& recovery() const { return log_.recovery(); }
  const std::filesystem::path& file() const { return log_.file(); }

 private:
  explicit RolloutStore(RecordLog log);

  RecordLog log_;
  std::map<std::string, model::RolloutState> rollouts_;  // by service
};

}  // namespace dstack::directory
