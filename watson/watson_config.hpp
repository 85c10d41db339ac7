// SPDX-License-Identifier: Apache-2.0
#pragma once
// watson.yaml (docs/watson.md#watsonyaml): every key, its default and its bounds.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/address.hpp"
#include "common/registry/address.hpp"

namespace dstack::watson {

inline constexpr const char* kDefaultConfigPath = "/etc/datawire/watson.yaml";
inline constexpr const char* kDefaultServicesDir = "/etc/datawire.d";
inline constexpr std::uint16_t kDefaultListenPort = 7401;

struct WatsonConfig {
  // watson registers with every one of these; absent or empty: http://127.0.0.1:7400.
  std::vector<registry::DirectoryAddress> directories;
  std::string services_dir = kDefaultServicesDir;
  std::string token_file;         // empty: requests carry no token
  std::string token;              // read from token_file while loading
  std::string directory_ca_file;  // CA bundle for https:// and etcds:// directories; empty: system
  std::string tls_cert, tls_key;  // a client certificate for those directories; empty: none
  std::chrono::seconds lease_ttl{10};                     // 1s..1h, whole seconds
  net::HostPort listen{"127.0.0.1", kDefaultListenPort};  // local API
  std::string log_level = "info";
};

// The built-in defaults, directories included.
WatsonConfig default_watson_config();

// Reads the file (throws config::ConfigError listing every problem). A missing file gives the
// defaults unless `must_exist` (the path was asked for), when it is an error.
WatsonConfig load_watson_config(const std::string& path, bool must_exist);
// The same from text; `file` names it in messages. For tests and the fuzz targets
// (docs/fuzzing.md): the files it names (token, CA bundle) are still read.
WatsonConfig parse_watson_config(std::string_view text, const std::string& file);

// Command-line flags over the file: each -d replaces `directories` (all of them together), and
// without -d $DSTACK_DIRECTORY does (docs/dw.md#directory-address). Throws config::ConfigError
// with lines that start with the flag's name (`-d: `, `DSTACK_DIRECTORY: `, `--listen: `...).
struct WatsonOverrides {
  std::vector<std::string> directories;
  std::string listen, token_file, log_level;
};
void apply_overrides(WatsonConfig& cfg, const WatsonOverrides& flags);

}  // namespace dstack::watson
