// SPDX-License-Identifier: Apache-2.0
#include "watson/watson_config.hpp"

#include <filesystem>
#include <variant>

#include "common/config/checks.hpp"
#include "common/config/reader.hpp"
#include "common/log/log.hpp"
#include "common/registry/address_config.hpp"

namespace dstack::watson {
namespace {

using namespace std::chrono_literals;

std::optional<std::string> check_listen(std::string_view text) {
  auto parsed = net::parse_host_port(text, kDefaultListenPort);
  if (auto* why = std::get_if<std::string>(&parsed)) return *why;
  return std::nullopt;
}

}  // namespace

WatsonConfig default_watson_config() {
  WatsonConfig cfg;
  cfg.directories = registry::default_directories();
  return cfg;
}

namespace {

// Everything after the YAML is parsed, shared by load_watson_config and parse_watson_config.
WatsonConfig read_watson_config(const config::Document& doc, config::Errors& errors) {
  WatsonConfig cfg = default_watson_config();
  config::MapReader r(doc, errors);

  cfg.directories = registry::read_directories(r, doc, errors);
  cfg.services_dir = r.string("services_dir", cfg.services_dir, [](std::string_view dir) {
    return dir.empty() ? std::optional<std::string>("must not be empty") : std::nullopt;
  });
  cfg.token_file = registry::read_token_file(r, cfg.token);
  cfg.directory_ca_file = r.string("directory_ca_file", "", config::readable_file);
  registry::read_client_certificate(r, cfg.tls_cert, cfg.tls_key);
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

}  // namespace

WatsonConfig load_watson_config(const std::string& path, bool must_exist) {
  if (!must_exist && !std::filesystem::exists(path)) return default_watson_config();
  config::Errors errors;
  auto doc = config::load_file(path, errors);
  if (!doc) errors.throw_if_any();
  return read_watson_config(*doc, errors);
}

WatsonConfig parse_watson_config(std::string_view text, const std::string& file) {
  config::Errors errors;
  auto doc = config::parse_text(text, file, errors);
  if (!doc) errors.throw_if_any();
  return read_watson_config(*doc, errors);
}

void apply_overrides(WatsonConfig& cfg, const WatsonOverrides& flags) {
  std::vector<std::string> problems;
  registry::override_directories(cfg.directories, flags.directories, problems);
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
  if (auto why = registry::check_token_for(cfg.directories, cfg.token))
    problems.push_back("token_file: " + *why);
  if (!problems.empty()) throw config::ConfigError(problems);
}

}  // namespace dstack::watson
