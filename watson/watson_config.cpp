#include "watson/watson_config.hpp"

#include <cstdlib>
#include <filesystem>
#include <set>
#include <variant>

#include "common/config/checks.hpp"
#include "common/config/reader.hpp"
#include "common/log/log.hpp"

namespace dstack::watson {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDefaultDirectory = "http://127.0.0.1:7400";

std::optional<std::string> check_listen(std::string_view text) {
  auto parsed = net::parse_host_port(text, kDefaultListenPort);
  if (auto* why = std::get_if<std::string>(&parsed)) return *why;
  return std::nullopt;
}

std::optional<std::string> check_directory(std::string_view text) {
  auto parsed = registry::parse_directory_address(text);
  if (auto* why = std::get_if<std::string>(&parsed)) return *why;
  return std::nullopt;
}

void read_directories(config::MapReader& r, const config::Document& doc, config::Errors& errors,
                      WatsonConfig& cfg) {
  const auto texts = r.string_list("directories", {}, check_directory);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto address =
        std::get<registry::DirectoryAddress>(registry::parse_directory_address(texts[i]));
    // Two spellings of one directory would mean two leases and every instance registered twice.
    if (!seen.insert(address.to_string()).second) {
      const YAML::Node& root = doc.root;
      errors.add(doc.file, root["directories"][i].Mark(), "directories[" + std::to_string(i) + "]",
                 "\"" + texts[i] + "\" is listed twice (as " + address.to_string() + ")");
      continue;
    }
    cfg.directories.push_back(std::move(address));
  }
  if (texts.empty()) cfg.directories = default_watson_config().directories;
}

}  // namespace

WatsonConfig default_watson_config() {
  WatsonConfig cfg;
  cfg.directories.push_back(
      std::get<registry::DirectoryAddress>(registry::parse_directory_address(kDefaultDirectory)));
  return cfg;
}

WatsonConfig load_watson_config(const std::string& path, bool must_exist) {
  WatsonConfig cfg = default_watson_config();
  if (!must_exist && !std::filesystem::exists(path)) return cfg;
  config::Errors errors;
  auto doc = config::load_file(path, errors);
  if (!doc) errors.throw_if_any();
  config::MapReader r(*doc, errors);

  cfg.directories.clear();
  read_directories(r, *doc, errors, cfg);
  cfg.services_dir = r.string("services_dir", cfg.services_dir, [](std::string_view dir) {
    return dir.empty() ? std::optional<std::string>("must not be empty") : std::nullopt;
  });
  cfg.token_file = r.string("token_file", "", [&cfg](std::string_view file) {
    return config::read_token(file, cfg.token);
  });
  // Leases count whole seconds on the wire, so 1500ms would be silently cut: refuse it.
  auto ttl = r.duration("lease_ttl", cfg.lease_ttl, {1s, 1h});
  if (ttl % 1s != 0ms) r.error("lease_ttl", "must be a whole number of seconds");
  cfg.lease_ttl = std::chrono::duration_cast<std::chrono::seconds>(ttl);
  auto listen = r.string("listen", cfg.listen.to_string(), check_listen);
  cfg.listen = std::get<net::HostPort>(net::parse_host_port(listen, kDefaultListenPort));
  cfg.log_level = r.string("log_level", cfg.log_level, log::check_level);

  r.finish();
  errors.throw_if_any();
  return cfg;
}

void apply_overrides(WatsonConfig& cfg, const WatsonOverrides& flags) {
  std::vector<std::string> problems;
  std::vector<std::string> dirs = flags.directories;
  const char* source = "-d";
  if (dirs.empty()) {
    const char* env = std::getenv("DSTACK_DIRECTORY");
    if (env && *env) {
      dirs.emplace_back(env);
      source = "DSTACK_DIRECTORY";
    }
  }
  if (!dirs.empty()) {
    std::vector<registry::DirectoryAddress> parsed;
    for (const auto& text : dirs) {
      auto address = registry::parse_directory_address(text);
      if (auto* why = std::get_if<std::string>(&address))
        problems.push_back(std::string(source) + ": " + *why);
      else
        parsed.push_back(std::get<registry::DirectoryAddress>(address));
    }
    cfg.directories = std::move(parsed);
  }
  if (!flags.listen.empty()) {
    if (auto why = check_listen(flags.listen)) {
      problems.push_back("--listen: " + *why);
    } else {
      cfg.listen = std::get<net::HostPort>(net::parse_host_port(flags.listen, kDefaultListenPort));
    }
  }
  if (!flags.token_file.empty()) {
    cfg.token.clear();
    if (auto why = config::read_token(flags.token_file, cfg.token))
      problems.push_back("--token-file: " + *why);
    cfg.token_file = flags.token_file;
  }
  if (!flags.log_level.empty()) {
    if (auto why = log::check_level(flags.log_level))
      problems.push_back("--log-level: " + *why);
    else
      cfg.log_level = flags.log_level;
  }
  if (!problems.empty()) throw config::ConfigError(problems);
}

}  // namespace dstack::watson
