// SPDX-License-Identifier: Apache-2.0
#pragma once
// PolicyStore: the directory's traffic policies (durable operator intent, one per service), kept
// in `<dir>/policies.log`, a RecordLog (record_log.hpp: the write, recovery and compaction
// contract) of policy records (policy_log_format.hpp). put()/remove() return success only once
// the record is on disk; only then does policies() change. Revisions are not stored.

#include <map>
#include <memory>
#include <string>
#include <system_error>

#include "common/model/model.hpp"
#include "directory/record_log.hpp"

namespace dstack::directory {

class PolicyStore {
 public:
  using Recovery = RecordLog::Recovery;

  // In a data directory the directory shares with its other stores. Throws StoreError.
  static PolicyStore open(std::shared_ptr<DataDir> dir, RecordLogOptions options = {});

  // Insert or replace the policy of its service. StoreErrc::invalid_record for a policy the log
  // could not load again.
  [[nodiscard]] std::error_code put(const model::TrafficPolicy& policy);
  // Removing a policy that does not exist succeeds without writing anything.
  [[nodiscard]] std::error_code remove(const std::string& service);

  const std::map<std::string, model::TrafficPolicy>& policies() const { return policies_; }

  const Recovery& recovery() const { return log_.recovery(); }
  const std::filesystem::path& file() const { return log_.file(); }

 private:
  explicit PolicyStore(RecordLog log);

  RecordLog log_;
  std::map<std::string, model::TrafficPolicy> policies_;  // by service
};

}  // namespace dstack::directory
