// SPDX-License-Identifier: Apache-2.0
// Directory addresses as dw, watson and sherlock read them (registry::parse_directory_address,
// docs/dw.md#directory-address), and the host:port they are made of (net::parse_host_port). An
// accepted address, written back with to_string() (as status pages and logs show it), must read
// back as the same address.
#include "common/registry/address.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;

namespace {

bool same(const registry::DirectoryAddress& a, const registry::DirectoryAddress& b) {
  if (a.kind != b.kind || a.tls != b.tls || a.prefix != b.prefix) return false;
  if (a.endpoints.size() != b.endpoints.size()) return false;
  for (std::size_t i = 0; i < a.endpoints.size(); ++i)
    if (a.endpoints[i].host != b.endpoints[i].host || a.endpoints[i].port != b.endpoints[i].port)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::text(data, size);

  auto hp = net::parse_host_port(text, 7400);
  if (auto* ok = std::get_if<net::HostPort>(&hp)) {
    FUZZ_CHECK(ok->port != 0 && !ok->host.empty());
    auto again = net::parse_host_port(ok->to_string(), 1);
    auto* back = std::get_if<net::HostPort>(&again);
    FUZZ_CHECK(back && back->host == ok->host && back->port == ok->port);
  }

  auto parsed = registry::parse_directory_address(text);
  auto* address = std::get_if<registry::DirectoryAddress>(&parsed);
  if (!address) {
    FUZZ_CHECK(std::get<std::string>(parsed).starts_with("directory address \""));
    return 0;
  }
  FUZZ_CHECK(!address->endpoints.empty());
  FUZZ_CHECK(address->kind == registry::DirectoryAddress::Kind::etcd ||
             address->endpoints.size() == 1);
  const std::string written = address->to_string();
  auto again = registry::parse_directory_address(written);
  auto* back = std::get_if<registry::DirectoryAddress>(&again);
  if (!back || !same(*back, *address))
    std::fprintf(stderr, "\"%s\" reads back differently from \"%s\"\n", written.c_str(),
                 std::string(text).c_str());
  FUZZ_CHECK(back && same(*back, *address));
  return 0;
}
