// SPDX-License-Identifier: Apache-2.0
#pragma once
// Token secrets (docs/security.md#token-secrets): made from 32 random bytes, shown once, kept
// only as a SHA-256 digest, and read back out of an Authorization header. No I/O.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace dstack::directory {

// The longest secret a request may present: the bootstrap token from token_file may be as long
// as a token file's first line (config/checks.hpp's kMaxTokenLine).
inline constexpr std::size_t kMaxSecret = 4096;

// "dstack_" and 43 characters of unpadded base64url: 256 bits from OpenSSL's CSPRNG. The prefix
// lets secret scanners recognise a leaked one. Throws std::runtime_error when the generator
// fails (it does not return a weak secret).
std::string new_token_secret();

// The SHA-256 digest of a secret, as 64 lowercase hex digits: what the directory stores and
// looks tokens up by. A digest says nothing usable about the secret, so the lookup may take
// time that depends on it.
std::string secret_digest(std::string_view secret);

// Whether two byte strings are equal, in time that depends on their length alone, never on
// where they differ: eight bytes at a time (CRYPTO_memcmp goes a byte at a time, which was a
// tenth of a keepalive's check: docs/benchmarks.md#access-controls-cost).
bool constant_time_equal(std::string_view a, std::string_view b);

// Whether two digests are equal, in time that does not depend on where they differ.
bool same_digest(std::string_view a, std::string_view b);

// Whether `secret` could travel in a Bearer header: 1 to kMaxSecret bytes, each 0x21..0x7e.
bool sendable_secret(std::string_view secret);

// The admin token read from token_file, checked: nullopt when sendable, else why not (a token
// with a space or a non-ASCII byte would pass the file check yet never authorise a request).
std::optional<std::string> check_admin_token(std::string_view token);

// The secret of an `Authorization: Bearer SECRET` header (the scheme in any case, one or more
// spaces after it), or nullopt when the header is malformed: another scheme, no secret, or a
// secret with a byte outside 0x21..0x7e or longer than kMaxSecret.
std::optional<std::string_view> bearer_secret(std::string_view authorization);
// The same without checking the secret's bytes: what follows the scheme and its spaces, or
// nullopt for another scheme or nothing after it. For a lookup among secrets known good, which
// a secret that fails the check cannot match.
std::optional<std::string_view> after_bearer_scheme(std::string_view authorization);

}  // namespace dstack::directory
