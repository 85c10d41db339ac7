// SPDX-License-Identifier: Apache-2.0
#include "sherlock/state_store.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/model/json.hpp"
#include "sherlock/haproxy_files.hpp"

namespace dstack::sherlock {

StateStore::StateStore(std::string state_dir)
    : dir_(std::move(state_dir)), path_(dir_ + "/snapshot.json") {}

void StateStore::save(const model::Snapshot& snapshot) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("state_dir " + dir_ + ": " + ec.message());
  write_file_atomically(path_, model::snapshot_text(snapshot) + "\n", /*sync=*/true);
}

std::optional<model::Snapshot> StateStore::load() const {
  std::ifstream in(path_);
  if (!in) {
    if (!std::filesystem::exists(path_)) return std::nullopt;
    throw std::runtime_error("cannot read " + path_);
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = model::snapshot_from_text(text.str());
  if (auto* problems = std::get_if<model::Problems>(&parsed)) {
    std::string all;
    for (const auto& p : *problems) all += (all.empty() ? "" : "; ") + p;
    throw std::runtime_error(path_ + ": not a snapshot: " + all);
  }
  return std::get<model::Snapshot>(parsed);
}

}  // namespace dstack::sherlock
