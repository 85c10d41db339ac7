#pragma once
// Registry over an etcd v3 cluster's JSON gateway (SPEC §9), for directory addresses
// etcd://h1:2379,h2:2379[/prefix] (etcds:// for TLS). Members are tried in turn, starting with
// the one that answered last; a member that cannot be reached, has no leader or times out is
// skipped, so only a cluster with no member answering is "unreachable".
//
// With credentials (the token file holds USER:PASSWORD) each member gets a token from
// /v3/auth/authenticate, taken again when a member stops accepting it.

#include <memory>

#include "common/registry/address.hpp"
#include "common/registry/directory_client.hpp"
#include "common/registry/registry.hpp"

namespace dstack::registry {

std::unique_ptr<Registry> make_etcd_client(asio::any_io_executor ex,
                                           const DirectoryAddress& address,
                                           ClientSettings settings);

}  // namespace dstack::registry
