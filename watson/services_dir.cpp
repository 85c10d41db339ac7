// SPDX-License-Identifier: Apache-2.0
// services_dir: every service file at once, with the rules across files
// (docs/watson.md#service-files, docs/watson.md#reloading).

#include <algorithm>
#include <filesystem>
#include <set>
#include <utility>

#include "common/model/validate.hpp"
#include "watson/service_reader.hpp"

namespace dstack::watson {
namespace {

namespace fs = std::filesystem;

// Editors and package managers leave dotfiles and backups (x.yaml~, x.yaml.dpkg-old) next to
// the real files; only *.yaml and *.yml count.
bool service_file_name(const std::string& name) {
  if (name.empty() || name.front() == '.') return false;
  return name.ends_with(".yaml") || name.ends_with(".yml");
}

using Key = std::pair<std::string, std::string>;  // (service, id)

}  // namespace

ServicesDir load_services_dir(const std::string& dir,
                              const std::map<std::string, ServiceDefinition>& previous) {
  ServicesDir out;
  config::Errors errors;
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (service_file_name(name) && it->is_regular_file(type_ec)) names.push_back(name);
  }
  if (ec) {
    // Most likely passing (a permission change, a remount): dropping every service would take
    // them all out of the directory, so what was in force stays.
    errors.add(dir, "cannot read: " + ec.message());
    out.problems = errors.lines();
    out.definitions = previous;
    for (const auto& [file, def] : previous) out.kept_previous.push_back(file);
    return out;
  }
  std::sort(names.begin(), names.end());

  std::map<Key, std::string> claimed;  // (service, id) -> file that defines it
  for (const auto& name : names) {
    const std::string path = (fs::path(dir) / name).string();
    auto file = detail::read_service_file(path, errors);
    if (file.definition) {
      const auto& def = *file.definition;
      auto [at, fresh] = claimed.emplace(Key{def.service, def.id}, path);
      if (fresh) {
        out.definitions.emplace(path, std::move(*file.definition));
        continue;
      }
      errors.add(path, file.service_at, "service",
                 "\"" + model::printable(def.service) + "\" with id \"" + model::printable(def.id) +
                     "\" is already defined in " + at->second);
    }
    // Invalid or refused: the previous definition stays, unless an earlier file has taken its
    // (service, id) in the meantime.
    auto old = previous.find(path);
    if (old == previous.end()) continue;
    if (claimed.emplace(Key{old->second.service, old->second.id}, path).second) {
      out.definitions.emplace(path, old->second);
      out.kept_previous.push_back(path);
    }
  }
  out.problems = errors.lines();
  return out;
}

}  // namespace dstack::watson
