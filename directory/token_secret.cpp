// SPDX-License-Identifier: Apache-2.0
#include "directory/token_secret.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace dstack::directory {

std::string new_token_secret() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("cannot make a token secret: the random generator failed");
  // Base64 of 32 bytes is 44 characters with one '=' of padding; base64url drops it.
  std::array<unsigned char, 45> b64{};
  EVP_EncodeBlock(b64.data(), bytes.data(), static_cast<int>(bytes.size()));
  std::string out = "dstack_";
  for (std::size_t i = 0; i < 43; ++i) {
    char c = static_cast<char>(b64[i]);
    out += c == '+' ? '-' : c == '/' ? '_' : c;
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  OPENSSL_cleanse(b64.data(), b64.size());
  return out;
}

std::string secret_digest(std::string_view secret) {
  // Requests digest their secrets: fetch SHA-256's implementation once and keep a context per
  // thread; EVP_Digest fetches and allocates on each call, which costs more than the hash
  // (docs/benchmarks.md#access-controls-cost).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                                            EVP_MD_CTX_free);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  if (!sha256 || !ctx || EVP_DigestInit_ex2(ctx.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), secret.data(), secret.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md.data(), &size) != 1)
    throw std::runtime_error("cannot hash a token secret: SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  std::uint64_t differ = 0;
  std::size_t i = 0;
  for (; i + sizeof differ <= a.size(); i += sizeof differ) {
    std::uint64_t x = 0, y = 0;
    std::memcpy(&x, a.data() + i, sizeof x);
    std::memcpy(&y, b.data() + i, sizeof y);
    differ |= x ^ y;
    // No instruction: it keeps the compiler from proving it may stop at the first difference.
    asm("" : "+r"(differ));
  }
  for (; i < a.size(); ++i) {
    differ |= static_cast<unsigned char>(a[i] ^ b[i]);
    asm("" : "+r"(differ));
  }
  return differ == 0;
}

bool same_digest(std::string_view a, std::string_view b) {
  // Digests have one length; a different one is not a digest, and saying so early leaks nothing.
  return constant_time_equal(a, b);
}

bool sendable_secret(std::string_view secret) {
  return !secret.empty() && secret.size() <= kMaxSecret &&
         std::all_of(secret.begin(), secret.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

std::optional<std::string> check_admin_token(std::string_view token) {
  if (sendable_secret(token)) return std::nullopt;
  return "the token holds a space, a control character or a non-ASCII byte, which an "
         "Authorization: Bearer header cannot carry: use printable ASCII only";
}

std::optional<std::string_view> bearer_secret(std::string_view authorization) {
  const auto rest = after_bearer_scheme(authorization);
  if (!rest || !sendable_secret(*rest)) return std::nullopt;
  return rest;
}

std::optional<std::string_view> after_bearer_scheme(std::string_view authorization) {
  // What every client here sends, first: the header is read on every request with a token.
  if (authorization.size() > 7 && authorization.starts_with("Bearer ") && authorization[7] != ' ')
    return authorization.substr(7);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i])
      return std::nullopt;
  }
  std::string_view rest = authorization.substr(kScheme.size());
  const auto start = rest.find_first_not_of(' ');
  if (start == 0 || start == std::string_view::npos) return std::nullopt;  // "BearerX", "Bearer "
  rest.remove_prefix(start);
  return rest;
}

}  // namespace dstack::directory
