// SPDX-License-Identifier: Apache-2.0
#pragma once
// RouteStore: the directory's routes (durable operator intent), kept in `<dir>/routes.log`, a
// RecordLog (record_log.hpp: the write, recovery and compaction contract) of route records
// (route_log_format.hpp). put()/remove() return success only once the record is on disk; only
// then does routes() change. Revisions are stored as given; the store never assigns them.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "common/model/model.hpp"
#include "directory/record_log.hpp"
#include "directory/route_log_format.hpp"

namespace dstack::directory {

class RouteStore {
 public:
  using Key = std::pair<std::string, std::string>;  // service, consumer ("" = everyone)
  using Recovery = RecordLog::Recovery;

  // In a data directory the directory shares with its other stores. Throws StoreError.
  static RouteStore open(std::shared_ptr<DataDir> dir, RecordLogOptions options = {});
  // In a directory of its own, created 0700 when missing. Throws StoreError.
  static RouteStore open(const std::filesystem::path& dir, RecordLogOptions options = {});

  // Insert or replace the route for (service, consumer), recording what it replaced (`previous`,
  // for a rollback). StoreErrc::invalid_record for bad field types, a weight outside 0..100,
  // invalid UTF-8 or over 1 MiB.
  [[nodiscard]] std::error_code put(const model::Route& route,
                                    const route_log::Previous& previous = {});
  // Removing a route that does not exist succeeds without writing anything.
  [[nodiscard]] std::error_code remove(const std::string& service, const std::string& consumer);
  // Rewrites the log now; put/remove do it on their own when the log outgrows the live set.
  [[nodiscard]] std::error_code compact() { return log_.compact(); }

  const std::map<Key, model::Route>& routes() const { return routes_; }
  std::optional<model::Route> get(const std::string& service, const std::string& consumer) const;
  // What the route's last put replaced; not known for a route without one, or put before the
  // store kept it.
  route_log::Previous previous(const std::string& service, const std::string& consumer) const;

  const Recovery& recovery() const { return log_.recovery(); }
  std::error_code last_compaction_error() const { return log_.last_compaction_error(); }
  const std::filesystem::path& file() const { return log_.file(); }
  std::uint64_t file_size() const { return log_.file_size(); }

 private:
  explicit RouteStore(RecordLog log);

  RecordLog log_;
  std::map<Key, model::Route> routes_;
  std::map<Key, route_log::Previous> previous_;
};

}  // namespace dstack::directory
