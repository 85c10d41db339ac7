// SPDX-License-Identifier: Apache-2.0
// The web console's files as a browser gets them from a real directory (docs/console.md#how-it-
// is-served): without a token even where the API wants one, under the Content-Security-Policy,
// named by hash and cached for good, gzip-compressed only for a browser that takes it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

using ::testing::HasSubstr;

constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

class ConsoleFiles : public ::testing::Test {
 protected:
  void SetUp() override { d_.start(); }
  Response get(const std::string& target, const Headers& headers = {}) const {
    return http(d_.port(), "GET", target, "", headers);
  }
  // A directory that answers nothing without a token.
  Directory d_{{.config = "auth: {anonymous: none}\n",
                .args = {"--token-file", "{dir}/admin.token"},
                .files = {{"admin.token", "admin-s3cret\n"}}}};
};

TEST_F(ConsoleFiles, ThePageNeedsNoTokenButTheApiStillDoes) {
  const auto page = get("/ui/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.header("content-security-policy"), kPolicy);
  EXPECT_EQ(page.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(page.header("cache-control"), "no-cache");
  // Scripts only from files: no inline script.
  EXPECT_THAT(page.body, HasSubstr("<script type=\"module\" src=\"./app-"));
  EXPECT_EQ(std::regex_search(page.body, std::regex("<script(?![^>]*\\ssrc=)[^>]*>")), false)
      << page.body;
  EXPECT_EQ(get("/v1/snapshot").status, 401);
}

TEST_F(ConsoleFiles, TheBundleIsNamedByItsHashCachedForGoodAndGzippedWhenAccepted) {
  const auto page = get("/ui/");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(page.body, m, std::regex("\\./(app-[A-Z0-9]+\\.js)"))) << page.body;
  const std::string script = "/ui/" + m[1].str();
  const auto plain = get(script);
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(plain.header("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(plain.header("content-encoding"), "");
  EXPECT_EQ(plain.header("vary"), "Accept-Encoding");

  const auto zipped = get(script, {{"Accept-Encoding", "br, gzip;q=0.8"}});
  ASSERT_EQ(zipped.status, 200);
  EXPECT_EQ(zipped.header("content-encoding"), "gzip");
  ASSERT_GE(zipped.body.size(), 2u);
  EXPECT_EQ(zipped.body.substr(0, 2), "\x1f\x8b");  // gzip's magic
  EXPECT_LT(zipped.body.size(), plain.body.size() / 2);
  EXPECT_EQ(get(script, {{"Accept-Encoding", "gzip;q=0"}}).header("content-encoding"), "");
  // The licences of what the bundle holds travel with it.
  EXPECT_THAT(get("/ui/licenses.txt").body, HasSubstr("preact"));
}

TEST_F(ConsoleFiles, OtherPathsAndMethodsAreRefused) {
  const auto bare = get("/ui");
  EXPECT_EQ(bare.status, 308);
  EXPECT_EQ(bare.header("location"), "/ui/");
  EXPECT_EQ(get("/ui/nothing.js").status, 404);
  EXPECT_EQ(get("/ui/../v1/snapshot").status, 404);
  const auto post = http(d_.port(), "POST", "/ui/", "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("allow"), "GET");
}

}  // namespace
}  // namespace dstack::test
