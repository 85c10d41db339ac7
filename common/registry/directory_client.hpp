// SPDX-License-Identifier: Apache-2.0
#pragma once
// Registry over the dstack directory's HTTP API (docs/api.md).

#include <memory>

#include "common/net/http_client.hpp"
#include "common/registry/address.hpp"
#include "common/registry/registry.hpp"

namespace dstack::registry {

struct ClientSettings {
  std::string token;  // bearer token sent with every request; empty: none
  net::ClientOptions http;
  Duration watch_idle_timeout =
      std::chrono::seconds(20);  // the directory sends keep-alives every 5 s
};

// What watson, sherlock and dw send: their token, and for https:// and etcds:// directories the
// CA bundle to check them with (empty: the system's) and a client certificate to present
// (cert and key; empty: none; docs/security.md#client-certificates).
ClientSettings client_settings(std::string token, std::string ca_file, std::string cert,
                               std::string key);

std::unique_ptr<Registry> make_directory_client(asio::any_io_executor ex,
                                                const DirectoryAddress& address,
                                                ClientSettings settings);

// The backend for the address: the directory client, or the etcd one for etcd:// addresses.
std::unique_ptr<Registry> make_registry(asio::any_io_executor ex, const DirectoryAddress& address,
                                        ClientSettings settings);

}  // namespace dstack::registry
