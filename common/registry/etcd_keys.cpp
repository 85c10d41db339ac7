// SPDX-License-Identifier: Apache-2.0
#include "common/registry/etcd_keys.hpp"

#include <openssl/evp.h>

namespace dstack::registry::etcd {

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes of output.
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '=' && size > 0; --i) --size;
  out.resize(size);
  return out;
}

std::string range_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // etcd's "to the end of the keyspace"
}

std::optional<ParsedKey> KeyLayout::parse(std::string_view key) const {
  ParsedKey out;
  std::string_view rest;
  if (key.starts_with(instances())) {
    rest = key.substr(instances().size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    out.kind = ParsedKey::Kind::instance;
    out.service = rest.substr(0, slash);
    out.name = rest.substr(slash + 1);
    return out;
  }
  if (key.starts_with(routes())) {
    rest = key.substr(routes().size());
    auto slash = rest.find('/');
    out.kind = ParsedKey::Kind::route;
    out.service = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
      out.name = rest.substr(slash + 1);
      if (out.name.empty()) return std::nullopt;
    }
    return out;
  }
  if (key.starts_with(policies())) {
    rest = key.substr(policies().size());
    if (rest.find('/') != std::string_view::npos) return std::nullopt;
    out.kind = ParsedKey::Kind::policy;
    out.service = rest;
    return out;
  }
  return std::nullopt;
}

}  // namespace dstack::registry::etcd
