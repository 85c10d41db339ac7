// SPDX-License-Identifier: Apache-2.0
#include "directory/token_store.hpp"

namespace dstack::directory {

TokenStore TokenStore::open(std::shared_ptr<DataDir> dir) {
  return TokenStore(RecordLog::open(std::move(dir), "tokens.log", token_log::format()));
}

TokenStore TokenStore::open(const std::filesystem::path& dir) {
  return open(DataDir::open(dir));
}

TokenStore::TokenStore(RecordLog log) : log_(std::move(log)) {
  for (const auto& [name, payload] : log_.live()) {
    token_log::Op op;
    // The log read every live payload with this decoder when it loaded it: a failure now is a
    // bug, and dropping the token would lose it silently.
    std::string why;
    if (!token_log::decode_payload(payload, op, &why))
      throw StoreError(log_.file().string() + ": a live record no longer decodes: " + why);
    index(op.token);
  }
}

void TokenStore::index(const Token& token) {
  if (const auto old = tokens_.find(token.name); old != tokens_.end()) unindex(old->second);
  by_digest_.emplace(token.digest, token.name);
  tokens_[token.name] = token;
}

void TokenStore::unindex(const Token& token) {
  auto [first, last] = by_digest_.equal_range(token.digest);
  for (auto it = first; it != last; ++it)
    if (it->second == token.name) {
      by_digest_.erase(it);
      return;
    }
}

std::error_code TokenStore::put(const Token& token) {
  std::string payload;
  if (!token_log::encode({false, token}, payload)) return StoreErrc::invalid_record;
  if (const auto ec = log_.append(payload)) return ec;
  index(token);
  ++generation_;
  return {};
}

std::error_code TokenStore::remove(const std::string& name) {
  const auto it = tokens_.find(name);
  if (it == tokens_.end()) return {};
  token_log::Op op;
  op.remove = true;
  op.token.name = name;
  std::string payload;
  if (!token_log::encode(op, payload)) return StoreErrc::invalid_record;
  if (const auto ec = log_.append(payload)) return ec;
  unindex(it->second);
  tokens_.erase(it);
  ++generation_;
  return {};
}

const Token* TokenStore::find(const std::string& name) const {
  const auto it = tokens_.find(name);
  return it == tokens_.end() ? nullptr : &it->second;
}

const Token* TokenStore::find_by_digest(std::string_view digest) const {
  const auto it = by_digest_.find(std::string(digest));
  return it == by_digest_.end() ? nullptr : find(it->second);
}

}  // namespace dstack::directory
