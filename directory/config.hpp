// SPDX-License-Identifier: Apache-2.0
#pragma once
// directory.yaml (docs/directory.md#directoryyaml): every key, its default and its bounds.

#include <optional>
#include <string>
#include <string_view>

#include "common/net/address.hpp"
#include "common/net/http_server.hpp"
#include "directory/caller.hpp"
#include "directory/state.hpp"

namespace dstack::directory {

struct DirectoryConfig {
  net::HostPort listen{"127.0.0.1", 7400};
  std::string data_dir = "/var/lib/dstack-directory";
  std::string token_file;              // empty: access control off
  std::string token;                   // read from token_file while loading: the admin token
  std::optional<Anonymous> anonymous;  // auth.anonymous; unset: anonymous_access() decides
  std::optional<net::ServerTls> tls;
  StateOptions state;  // lease.*, sync_grace, limits.max_instances_per_lease
  net::ServerLimits limits;
  Duration watch_keepalive = std::chrono::seconds(5);
  // Each change goes to every watch stream in one io_uring submission
  // (docs/directory.md#watch-fan-out).
  bool watch_io_uring = true;
  // How long consumers' traffic reports are kept (docs/insight.md#the-fleets-view).
  Duration traffic_window = std::chrono::minutes(10);
  std::string log_level = "info";
};

// Reads the file (throws config::ConfigError listing every problem). A missing file at the
// default path gives the defaults; a missing file that was asked for is an error. When
// `token_file_flag` is set, the file's token_file is replaced by it and not read.
DirectoryConfig load_config(const std::string& path, bool must_exist,
                            const std::string& token_file_flag = "");
// The same from text; `file` names it in messages. For tests and the fuzz targets
// (docs/fuzzing.md): the files it names (token, TLS) are still read.
DirectoryConfig parse_config(std::string_view text, const std::string& file,
                             const std::string& token_file_flag = "");

// What a request without a token may do: auth.anonymous, else `read` when the directory
// listens on a loopback address only and `none` otherwise
// (docs/security.md#requests-without-a-token).
Anonymous anonymous_access(const DirectoryConfig& cfg);

// Command-line flags win over the file; empty strings leave the file's value. Throws
// config::ConfigError naming the flag when a value is invalid.
void apply_overrides(DirectoryConfig& cfg, const std::string& listen, const std::string& data_dir,
                     const std::string& token_file, const std::string& log_level);

}  // namespace dstack::directory
