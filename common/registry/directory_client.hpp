// SPDX-License-Identifier: Apache-2.0
#pragma once
// Registry over the dstack directory's HTTP API (docs/api.md).

#include <memory>

#include "common/net/http_client.hpp"
#include "common/registry/address.hpp"
#include "common/registry/registry.hpp"

namespace dstack::registry {

struct ClientSettings {
  std::string token;  // bearer token for writes; empty: none
  net::ClientOptions http;
  Duration watch_idle_timeout =
      std::chrono::seconds(20);  // the directory sends keep-alives every 5 s
};

std::unique_ptr<Registry> make_directory_client(asio::any_io_executor ex,
                                                const DirectoryAddress& address,
                                                ClientSettings settings);

// The backend for the address: the directory client, or the etcd one for etcd:// addresses.
std::unique_ptr<Registry> make_registry(asio::any_io_executor ex, const DirectoryAddress& address,
                                        ClientSettings settings);

}  // namespace dstack::registry
