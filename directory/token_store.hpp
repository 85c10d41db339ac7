// SPDX-License-Identifier: Apache-2.0
#pragma once
// TokenStore: the directory's tokens, kept in `<dir>/tokens.log`, a RecordLog (record_log.hpp:
// the write, recovery and compaction contract) of token records (token_log_format.hpp). Only
// each secret's digest is stored. put()/remove() return success only once the record is on
// disk; only then does what find() answers change, so an acknowledged revocation holds across
// any crash.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "directory/record_log.hpp"
#include "directory/token_log_format.hpp"

namespace dstack::directory {

class TokenStore {
 public:
  using Recovery = RecordLog::Recovery;

  // In a data directory the directory shares with its other stores. Throws StoreError.
  static TokenStore open(std::shared_ptr<DataDir> dir);
  // In a directory of its own, created 0700 when missing. Throws StoreError.
  static TokenStore open(const std::filesystem::path& dir);

  // Inserts or replaces the token of that name. StoreErrc::invalid_record for a token the
  // log could not load again (token_log::encode).
  [[nodiscard]] std::error_code put(const Token& token);
  // Removing a token that does not exist succeeds without writing anything.
  [[nodiscard]] std::error_code remove(const std::string& name);

  const Token* find(const std::string& name) const;
  // The token whose secret has this digest (token_secret.hpp's secret_digest).
  const Token* find_by_digest(std::string_view digest) const;
  const std::map<std::string, Token>& tokens() const { return tokens_; }
  // Moves on with every put and remove: a Token* found before is valid while it has not.
  std::uint64_t generation() const { return generation_; }

  const Recovery& recovery() const { return log_.recovery(); }
  const std::filesystem::path& file() const { return log_.file(); }
  std::uint64_t file_size() const { return log_.file_size(); }

 private:
  explicit TokenStore(RecordLog log);
  void index(const Token& token);
  void unindex(const Token& token);

  RecordLog log_;
  std::map<std::string, Token> tokens_;
  // digest -> name. A multimap: random secrets never share a digest, but a file could.
  std::unordered_multimap<std::string, std::string> by_digest_;
  std::uint64_t generation_ = 0;
};

}  // namespace dstack::directory
