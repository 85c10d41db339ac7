// SPDX-License-Identifier: Apache-2.0
#pragma once
// RecordLog: one durable keyed store of the directory (routes.log, tokens.log), kept in an
// append-only file of framed records (record_log_format.hpp; docs/directory.md#durable-state).
// Each record puts or deletes one key; the live set is the last put of every key not deleted
// since. What a payload means is the caller's; the log only asks the format to read it.
//
// Contract:
// - append() returns success only once the record is on disk (write + fdatasync); only then
//   does the live set change. On failure the live set is unchanged and the file is cut back to
//   its last good end, so no later record follows a torn fragment; if even that cut fails,
//   every further write is refused (StoreErrc::failed) until the log is reopened.
// - A payload the format cannot read back never reaches the file (StoreErrc::invalid_record):
//   one bad record would make the whole log unloadable.
// - open() loads the longest valid prefix. A torn tail (what a crash mid-append leaves) is cut
//   off and described in recovery(); damage followed by more data, a foreign header, or a
//   record with a valid checksum but an unreadable payload throws StoreError, because
//   dropping those could lose acknowledged records.
// - When the file outgrows the live set it is rewritten as FILE.tmp, fsynced and renamed over
//   FILE; a crash at any point leaves the old or the new file, both complete.
// - One process per data directory: DataDir holds an exclusive flock on it.
// - Not thread-safe (the directory uses its logs from its one io_context thread).

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>

#include "common/core/fd.hpp"
#include "directory/record_log_format.hpp"

namespace dstack::directory {

// A log could not be loaded or created; the message names the file, offset and problem.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class StoreErrc {
  invalid_record = 1,  // the format cannot read the payload back, or it is over 1 MiB
  failed,              // an earlier failed write could not be undone; reopen the log
};
const std::error_category& store_category();
std::error_code make_error_code(StoreErrc e);

// The data directory, created 0700 when missing and locked for this process: two writers
// appending to one log would interleave records. Locking the directory rather than a log
// survives compaction swapping the log's inode. Logs share it and fsync it for their renames.
class DataDir {
  struct Key {};  // only open() makes one

 public:
  // Throws StoreError, e.g. when another process holds it.
  static std::shared_ptr<DataDir> open(const std::filesystem::path& dir);
  explicit DataDir(Key) {}

  const std::filesystem::path& path() const { return path_; }
  int fd() const { return fd_.get(); }
  // Each file in it is one log's: a second log of one name would interleave records. Throws
  // StoreError for a name already claimed in this process.
  void claim(const std::string& name);

 private:
  std::filesystem::path path_;
  Fd fd_;
  std::set<std::string> claimed_;
};

struct RecordLogOptions {
  // Compact when the file is larger than both of these (bytes; times a fresh snapshot).
  std::uint64_t compact_min_bytes = 64 * 1024;
  std::uint64_t compact_ratio = 4;
};

class RecordLog {
 public:
  // What open() had to repair; the daemon logs `message` as a warning when it is not empty.
  struct Recovery {
    bool dropped = false;      // a torn tail (or a partial file header) was cut off
    std::uint64_t offset = 0;  // where the dropped bytes started
    std::uint64_t bytes = 0;   // how many were dropped
    std::string reason;        // e.g. "checksum mismatch", "incomplete record header"
    bool removed_tmp = false;  // deleted a FILE.tmp left by an interrupted compaction
    std::string message;       // one line naming the file; empty when nothing happened
  };

  // Opens `name` in `dir`, creating it when missing. Throws StoreError.
  static RecordLog open(std::shared_ptr<DataDir> dir, const std::string& name,
                        record_log::Format format, RecordLogOptions options = {});

  // Nothing to flush on destruction: every acknowledged record was synced when written.
  RecordLog(RecordLog&& other) noexcept = default;
  RecordLog& operator=(RecordLog&& other) noexcept = default;

  // Writes one payload and applies it.
  [[nodiscard]] std::error_code append(std::string_view payload);
  // Rewrites the file now; append() does it on its own when the file outgrows the live set.
  [[nodiscard]] std::error_code compact();

  // The live payloads by key, in key order.
  const std::map<std::string, std::string>& live() const { return live_; }

  const Recovery& recovery() const { return recovery_; }
  // The last automatic compaction's failure (cleared by a success). Writes still succeed
  // meanwhile; the file just keeps growing, and the next attempt waits until it has doubled.
  std::error_code last_compaction_error() const { return compaction_error_; }
  const std::filesystem::path& file() const { return file_; }
  std::uint64_t file_size() const { return file_size_; }

 private:
  RecordLog() = default;
  void load();
  std::error_code write_record(const std::string& record);
  void apply(const record_log::Change& change, std::string_view payload);
  void maybe_compact();
  std::uint64_t snapshot_size() const;

  std::shared_ptr<DataDir> dir_;  // held for the lock and for fsyncing renames and creations
  std::filesystem::path file_;
  record_log::Format format_;
  RecordLogOptions options_;
  Fd fd_;  // the log, O_APPEND
  bool failed_ = false;
  std::uint64_t file_size_ = 0;
  std::uint64_t live_bytes_ = 0;        // what a fresh snapshot's records would take
  std::uint64_t compact_retry_at_ = 0;  // after a failed compaction: file size to wait for
  std::error_code compaction_error_;
  std::map<std::string, std::string> live_;
  Recovery recovery_;
};

}  // namespace dstack::directory

template <>
struct std::is_error_code_enum<dstack::directory::StoreErrc> : std::true_type {};
