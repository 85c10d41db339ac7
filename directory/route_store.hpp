// SPDX-License-Identifier: Apache-2.0
#pragma once
// RouteStore: the directory's routes (durable operator intent), kept in an append-only log
// `<dir>/routes.log` (format: route_log_format.hpp).
//
// Contract:
// - put()/remove() return success only once the record is on disk (write + fdatasync); only
//   then does the in-memory map change. On failure the map is unchanged and the file is cut
//   back to its last good end, so no later record follows a torn fragment; if even that cut
//   fails, every further write is refused (RouteStoreErrc::failed) until the store is reopened.
// - open() loads the longest valid prefix. A torn tail (what a crash mid-append leaves) is cut
//   off and described in recovery(); damage followed by more data, a foreign header, or a
//   record with a valid checksum but an invalid payload throws RouteStoreError, because
//   dropping those could lose acknowledged routes.
// - When the log outgrows the live set it is rewritten as routes.log.tmp, fsynced and renamed
//   over routes.log; a crash at any point leaves the old or the new log, both complete.
// - One store per directory: open() holds an exclusive flock on the directory.
// - Not thread-safe (the directory uses it from its one io_context thread). Revisions are
//   stored as given; the store never assigns them.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "common/core/fd.hpp"
#include "common/model/model.hpp"

namespace dstack::directory {

// open() could not load or create the store; the message names the file, offset and problem.
class RouteStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class RouteStoreErrc {
  invalid_route = 1,  // bad field types, weight outside 0..100, invalid UTF-8 or > 1 MiB
  failed,             // an earlier failed write could not be undone; reopen the store
};
const std::error_category& route_store_category();
std::error_code make_error_code(RouteStoreErrc e);

struct RouteStoreOptions {
  // Compact when the log is larger than both of these (bytes; times a fresh snapshot).
  std::uint64_t compact_min_bytes = 64 * 1024;
  std::uint64_t compact_ratio = 4;
};

class RouteStore {
 public:
  using Key = std::pair<std::string, std::string>;  // service, consumer ("" = everyone)

  // What open() had to repair; the daemon logs `message` as a warning when it is not empty.
  struct Recovery {
    bool dropped = false;      // a torn tail (or a partial file header) was cut off
    std::uint64_t offset = 0;  // where the dropped bytes started
    std::uint64_t bytes = 0;   // how many were dropped
    std::string reason;        // e.g. "checksum mismatch", "incomplete record header"
    bool removed_tmp = false;  // deleted a routes.log.tmp left by an interrupted compaction
    std::string message;       // one line naming the file; empty when nothing happened
  };

  // Creates `dir` (0700) and the log when missing. Throws RouteStoreError.
  static RouteStore open(const std::filesystem::path& dir, RouteStoreOptions options = {});

  // Nothing to flush on destruction: every acknowledged record was synced when written.
  RouteStore(RouteStore&& other) noexcept = default;
  RouteStore& operator=(RouteStore&& other) noexcept = default;

  // Insert or replace the route for (service, consumer).
  [[nodiscard]] std::error_code put(const model::Route& route);
  // Removing a route that does not exist succeeds without writing anything.
  [[nodiscard]] std::error_code remove(const std::string& service, const std::string& consumer);
  // Rewrites the log now; put/remove do it on their own when the log outgrows the live set.
  [[nodiscard]] std::error_code compact();

  const std::map<Key, model::Route>& routes() const { return routes_; }
  std::optional<model::Route> get(const std::string& service, const std::string& consumer) const;

  const Recovery& recovery() const { return recovery_; }
  // The last automatic compaction's failure (cleared by a success). Writes still succeed
  // meanwhile; the log just keeps growing, and the next attempt waits until it has doubled.
  std::error_code last_compaction_error() const { return compaction_error_; }
  const std::filesystem::path& file() const { return file_; }
  std::uint64_t file_size() const { return file_size_; }

 private:
  RouteStore() = default;
  void load();
  std::error_code append(const std::string& record);
  void apply(const model::Route& route, bool remove, std::uint64_t record_size);
  void maybe_compact();

  std::filesystem::path dir_;
  std::filesystem::path file_;
  RouteStoreOptions options_;
  Fd dir_fd_;  // held for the flock and for fsyncing renames and creations; closed last
  Fd fd_;      // routes.log, O_APPEND
  bool failed_ = false;
  std::uint64_t file_size_ = 0;
  std::uint64_t live_bytes_ = 0;        // what a fresh snapshot's records would take
  std::map<Key, std::uint64_t> sizes_;  // record size of each live route, for live_bytes_
  std::uint64_t compact_retry_at_ = 0;  // after a failed compaction: file size to wait for
  std::error_code compaction_error_;
  std::map<Key, model::Route> routes_;
  Recovery recovery_;
};

}  // namespace dstack::directory

template <>
struct std::is_error_code_enum<dstack::directory::RouteStoreErrc> : std::true_type {};
