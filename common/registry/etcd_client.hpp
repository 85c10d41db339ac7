// SPDX-License-Identifier: Apache-2.0
#pragma once
// Registry over an etcd v3 cluster's JSON gateway (docs/etcd.md), for directory addresses
// etcd://h1:2379,h2:2379[/prefix] (etcds:// for TLS): the key layout of etcd_keys.hpp, values
// validated as etcd_entries.hpp does, members asked as etcd_members.hpp does, watches as
// etcd_watch.hpp keeps them.

#include <memory>

#include "common/registry/address.hpp"
#include "common/registry/directory_client.hpp"
#include "common/registry/registry.hpp"

namespace dstack::registry {

std::unique_ptr<Registry> make_etcd_client(asio::any_io_executor ex,
                                           const DirectoryAddress& address,
                                           ClientSettings settings);

}  // namespace dstack::registry
