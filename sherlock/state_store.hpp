// SPDX-License-Identifier: Apache-2.0
#pragma once
// The last view of the directory, saved in state_dir so that a sherlock restarted while every
// directory is down serves what it served before (docs/sherlock.md#fail-static). One JSON file
// (snapshot.json, the directory's own snapshot format), replaced atomically and synced, so a
// crash leaves the old file or the new one.

#include <optional>
#include <string>

#include "common/model/model.hpp"

namespace dstack::sherlock {

class StateStore {
 public:
  explicit StateStore(std::string state_dir);

  // Throws std::runtime_error naming the file.
  void save(const model::Snapshot& snapshot) const;
  // nullopt when there is no file; throws std::runtime_error naming the file when it cannot be
  // read or is not a valid snapshot.
  std::optional<model::Snapshot> load() const;

  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace dstack::sherlock
