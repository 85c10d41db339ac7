// SPDX-License-Identifier: Apache-2.0
#pragma once
// The `directories` list shared by watson.yaml and sherlock.yaml, and the -d / $DSTACK_DIRECTORY
// overrides over it (docs/dw.md#directory-address), so both daemons read and refuse addresses
// the same way.

#include <optional>
#include <string>
#include <vector>

#include "common/config/reader.hpp"
#include "common/registry/address.hpp"

namespace dstack::registry {

// `directories: [...]` from the file: each address parsed, and one directory written twice (two
// spellings of the same address) refused. Absent or empty: http://127.0.0.1:7400.
std::vector<DirectoryAddress> read_directories(config::MapReader& r, const config::Document& doc,
                                               config::Errors& errors);

// The built-in default list: http://127.0.0.1:7400.
std::vector<DirectoryAddress> default_directories();

// -d flags (all of them together), else $DSTACK_DIRECTORY, replace `directories`; nothing given
// leaves them. Problems are appended as `-d: ...` or `DSTACK_DIRECTORY: ...`.
void override_directories(std::vector<DirectoryAddress>& directories,
                          const std::vector<std::string>& flags,
                          std::vector<std::string>& problems);

// `tls_cert` and `tls_key` of an agent's YAML (docs/security.md#client-certificates): both or
// neither, each readable, and a key that matches the certificate; problems reported at the keys.
void read_client_certificate(config::MapReader& r, std::string& cert, std::string& key);

// `token_file` of an agent's YAML: its first line, trimmed, into `token`. The packaged configs
// name a file of the host's own that an admin makes, so a missing one is reported with how to
// make it (docs/install.md#a-token-for-each-host). Returns the path ("" when not set).
std::string read_token_file(config::MapReader& r, std::string& token);

// For an etcd directory the token file holds USER:PASSWORD (etcd has users, not bearer tokens):
// a problem saying so when `token` is given but is not of that form.
std::optional<std::string> check_token_for(const std::vector<DirectoryAddress>& directories,
                                           const std::string& token);

}  // namespace dstack::registry
