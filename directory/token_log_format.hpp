// SPDX-License-Identifier: Apache-2.0
#pragma once
// What tokens.log's records say (framing: record_log_format.hpp; docs/security.md#tokens),
// free of I/O so every decision is tested on byte strings.
//
//   magic   := "DSTACK-TOKENS 1\n"
//   payload := {"op":"put","name":N,"policies":[P...],"digest":D,"created":T,"expires":T}
//            | {"op":"delete","name":N}                                      (compact JSON)
//
// D is the SHA-256 of the secret in lowercase hex: the secret itself is never stored. T is in
// seconds since the Unix epoch; expires 0 means never.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/model/policy.hpp"
#include "directory/record_log_format.hpp"

namespace dstack::directory {

struct Token {
  std::string name;
  std::vector<model::Policy> policies;
  std::string digest;
  std::uint64_t created = 0;
  std::uint64_t expires = 0;  // 0: never

  bool expired_at(std::uint64_t now) const { return expires != 0 && now >= expires; }
  bool operator==(const Token&) const = default;
};

namespace token_log {

inline constexpr std::string_view kMagic = "DSTACK-TOKENS 1\n";

struct Op {
  bool remove = false;
  Token token;  // for a remove only the name matters
};

// The payload; false, with *why set, for a token decode_payload would refuse (an invalid name,
// no policies, a digest that is not 64 lowercase hex digits).
bool encode(const Op& op, std::string& payload, std::string* why = nullptr);
// Parses and checks one payload: the name rule, every policy, the digest's form.
bool decode_payload(std::string_view payload, Op& op, std::string* why = nullptr);

// tokens.log for record_log::parse and RecordLog; a record's key is the token's name.
const record_log::Format& format();

}  // namespace token_log
}  // namespace dstack::directory
