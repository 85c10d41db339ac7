// SPDX-License-Identifier: Apache-2.0
#include "common/registry/address_config.hpp"

#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "common/config/checks.hpp"
#include "common/net/tls.hpp"

namespace dstack::registry {

namespace {

std::optional<std::string> check_directory(std::string_view text) {
  auto parsed = parse_directory_address(text);
  if (auto* why = std::get_if<std::string>(&parsed)) return *why;
  return std::nullopt;
}

}  // namespace

std::string read_token_file(config::MapReader& r, std::string& token) {
  return r.string("token_file", "", [&token](std::string_view file) {
    auto problem = config::read_token(file, token);
    std::error_code ec;
    if (problem && !std::filesystem::exists(std::filesystem::path(file), ec) && !ec)
      *problem +=
          "; an admin makes this host's token with `dw token create NAME --policy ...`"
          " (docs/install.md#a-token-for-each-host)";
    return problem;
  });
}

void read_client_certificate(config::MapReader& r, std::string& cert, std::string& key) {
  cert = r.string("tls_cert", "", config::readable_file);
  key = r.string("tls_key", "", config::readable_file);
  if (cert.empty() && key.empty()) return;
  if (cert.empty() || key.empty()) {
    r.error(cert.empty() ? "tls_key" : "tls_cert", "needs tls_cert and tls_key together");
    return;
  }
  // Unreadable files are reported above; readable ones must also be a PEM pair that matches.
  if (config::readable_file(cert) || config::readable_file(key)) return;
  try {
    net::make_client_context(net::ClientTls{"", true, cert, key});
  } catch (const std::runtime_error& e) {
    r.error("tls_cert", e.what());
  }
}

std::vector<DirectoryAddress> default_directories() {
  return {std::get<DirectoryAddress>(parse_directory_address("http://127.0.0.1:7400"))};
}

std::vector<DirectoryAddress> read_directories(config::MapReader& r, const config::Document& doc,
                                               config::Errors& errors) {
  const auto texts = r.string_list("directories", {}, check_directory);
  if (texts.empty()) return default_directories();
  std::vector<DirectoryAddress> out;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto parsed = parse_directory_address(texts[i]);
    if (!std::holds_alternative<DirectoryAddress>(parsed)) continue;  // reported by the check
    auto address = std::get<DirectoryAddress>(std::move(parsed));
    // Two spellings of one directory would mean two leases and every instance registered twice.
    if (!seen.insert(address.to_string()).second) {
      const YAML::Node& root = doc.root;
      errors.add(doc.file, root["directories"][i].Mark(), "directories[" + std::to_string(i) + "]",
                 "\"" + texts[i] + "\" is listed twice (as " + address.to_string() + ")");
      continue;
    }
    out.push_back(std::move(address));
  }
  return out;
}

void override_directories(std::vector<DirectoryAddress>& directories,
                          const std::vector<std::string>& flags,
                          std::vector<std::string>& problems) {
  std::vector<std::string> texts = flags;
  const char* source = "-d";
  if (texts.empty()) {
    const char* env = std::getenv("DSTACK_DIRECTORY");
    if (env && *env) {
      texts.emplace_back(env);
      source = "DSTACK_DIRECTORY";
    }
  }
  if (texts.empty()) return;
  std::vector<DirectoryAddress> parsed;
  for (const auto& text : texts) {
    auto address = parse_directory_address(text);
    if (auto* why = std::get_if<std::string>(&address))
      problems.push_back(std::string(source) + ": " + *why);
    else
      parsed.push_back(std::get<DirectoryAddress>(address));
  }
  directories = std::move(parsed);
}

std::optional<std::string> check_token_for(const std::vector<DirectoryAddress>& directories,
                                           const std::string& token) {
  if (token.empty()) return std::nullopt;
  for (const auto& d : directories) {
    if (d.kind != DirectoryAddress::Kind::etcd) continue;
    if (auto colon = token.find(':'); colon == std::string::npos || colon == 0)
      return "for " + d.to_string() + " the token file must hold USER:PASSWORD (an etcd user)";
  }
  return std::nullopt;
}

}  // namespace dstack::registry
