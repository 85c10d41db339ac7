// SPDX-License-Identifier: Apache-2.0
// Token secrets (docs/security.md#token-secrets): made, digested, compared, read from headers.
#include "directory/token_secret.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace dstack::directory {
namespace {

TEST(TokenSecretTest, NewSecretsAreLongPrefixedUrlSafeAndNeverRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto s = new_token_secret();
    ASSERT_EQ(s.size(), 7u + 43u) << s;
    ASSERT_TRUE(s.starts_with("dstack_")) << s;
    for (char c : s.substr(7))
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << s;
    ASSERT_TRUE(seen.insert(s).second) << "repeated: " << s;
    // What a client sends back is what bearer_secret reads.
    ASSERT_EQ(bearer_secret("Bearer " + s), s);
  }
}

TEST(TokenSecretTest, DigestIsSha256InHex) {
  // FIPS 180-2's test vector for "abc".
  EXPECT_EQ(secret_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(secret_digest("").size(), 64u);
  EXPECT_NE(secret_digest("dstack_a"), secret_digest("dstack_b"));
}

TEST(TokenSecretTest, DigestsCompareByValue) {
  const auto d = secret_digest("s3cret");
  EXPECT_TRUE(same_digest(d, secret_digest("s3cret")));
  EXPECT_FALSE(same_digest(d, secret_digest("s3creT")));
  EXPECT_FALSE(same_digest(d, d.substr(0, 63)));
  EXPECT_FALSE(same_digest(d, ""));
}

TEST(TokenSecretTest, ConstantTimeEqualSeesADifferenceAnywhere) {
  // Lengths around the eight-byte words it compares, a difference in every byte and bit place.
  for (std::size_t size = 0; size <= 40; ++size) {
    const std::string a(size, 'q');
    EXPECT_TRUE(constant_time_equal(a, std::string(size, 'q'))) << size;
    EXPECT_FALSE(constant_time_equal(a, a + "q")) << size;
    for (std::size_t at = 0; at < size; ++at)
      for (int bit = 0; bit < 8; ++bit) {
        std::string b = a;
        b[at] = static_cast<char>(b[at] ^ (1 << bit));
        EXPECT_FALSE(constant_time_equal(a, b)) << size << " " << at << " " << bit;
      }
  }
}

TEST(TokenSecretTest, BearerHeadersAreReadStrictly) {
  EXPECT_EQ(bearer_secret("Bearer abc"), "abc");
  EXPECT_EQ(bearer_secret("bearer abc"), "abc");
  EXPECT_EQ(bearer_secret("BEARER   abc"), "abc");
  EXPECT_EQ(bearer_secret("Bearer " + std::string(kMaxSecret, 'x')), std::string(kMaxSecret, 'x'));

  for (const std::string& bad : std::vector<std::string>{
           "", "Bearer", "Bearer ", "Bearer    ", "Bearerabc", "Basic abc", "Token abc",
           " Bearer abc", "Bearer a b", "Bearer abc\r\nX: y", std::string("Bearer a\0b", 10),
           "Bearer caf\xc3\xa9", "Bearer \x7f", "Bearer\tabc"}) {
    EXPECT_EQ(bearer_secret(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(bearer_secret("Bearer " + std::string(kMaxSecret + 1, 'x')), std::nullopt);
}

}  // namespace
}  // namespace dstack::directory
