// SPDX-License-Identifier: Apache-2.0
// tokens.log (directory/token_log_format.hpp) and the TokenStore over it: what a record says,
// what is refused before it reaches the file, and what survives a reopen. The framing's
// recovery rules are the record log's, tested on routes.log (route_store_test.cpp).
#include "directory/token_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "directory/route_store.hpp"
#include "directory/token_secret.hpp"
#include "unit/temp_dir.hpp"

namespace dstack::directory {
namespace {

using test::TempDir;
using ::testing::HasSubstr;

Token token(std::string name, std::vector<std::string> policies = {"read"},
            std::uint64_t expires = 0) {
  Token t;
  t.name = std::move(name);
  for (auto& p : policies) t.policies.push_back(std::get<model::Policy>(model::parse_policy(p)));
  t.digest = secret_digest("secret-of-" + t.name);
  t.created = 1700000000;
  t.expires = expires;
  return t;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(TokenLog, RoundTripsEveryField) {
  const Token t = token("vm101", {"register:emitter", "read", "routes:pay*"}, 1800000000);
  std::string payload;
  ASSERT_TRUE(token_log::encode({false, t}, payload));
  EXPECT_EQ(
      payload,
      R"({"created":1700000000,"digest":")" + t.digest +
          R"(","expires":1800000000,"name":"vm101","op":"put","policies":["register:emitter","read","routes:pay*"]})");
  token_log::Op back;
  ASSERT_TRUE(token_log::decode_payload(payload, back));
  EXPECT_FALSE(back.remove);
  EXPECT_EQ(back.token, t);
}

TEST(TokenLog, RefusesWhatItCouldNotLoadAgain) {
  std::string payload, why;
  Token bad = token("vm101");
  bad.digest = "ABC";
  EXPECT_FALSE(token_log::encode({false, bad}, payload, &why));
  EXPECT_EQ(why, "\"digest\" is not 64 lowercase hex digits");
  EXPECT_FALSE(token_log::encode({false, token("VM 101")}, payload, &why));
  EXPECT_THAT(why, HasSubstr("token \"VM 101\" is invalid"));
  Token none = token("vm101");
  none.policies.clear();
  EXPECT_FALSE(token_log::encode({false, none}, payload, &why));
  EXPECT_EQ(why, "\"policies\" missing, not an array or empty");
}

TEST(TokenLog, DecodeNamesWhatIsWrong) {
  const std::string digest(64, 'a');
  const std::pair<std::string, std::string> cases[] = {
      {"[]", "not a JSON object"},
      {R"({"op":"put"})", "\"name\" missing or not a string"},
      {R"({"op":"rename","name":"a"})", "unknown op \"rename\""},
      {R"({"op":"put","name":"a","policies":["regster:x"],"digest":")" + digest +
           R"(","created":1,"expires":0})",
       "policy \"regster:x\" is invalid: must be read, report, admin, register:GLOB or "
       "routes:GLOB"},
      {R"({"op":"put","name":"a","policies":["read"],"digest":")" + digest +
           R"(","created":-1,"expires":0})",
       "\"created\" missing or not an unsigned integer"},
  };
  for (const auto& [payload, message] : cases) {
    token_log::Op op;
    std::string why;
    EXPECT_FALSE(token_log::decode_payload(payload, op, &why)) << payload;
    EXPECT_EQ(why, message) << payload;
  }
}

TEST(TokenStore, PutFindRevokeAndReopen) {
  TempDir tmp;
  {
    auto store = TokenStore::open(tmp.path());
    ASSERT_FALSE(store.put(token("vm101", {"register:emitter"})));
    ASSERT_FALSE(store.put(token("vm102")));
    ASSERT_FALSE(store.put(token("ops", {"admin"}, 1800000000)));
    ASSERT_FALSE(store.remove("vm102"));
    ASSERT_FALSE(store.remove("never-was"));  // nothing to write
    ASSERT_NE(store.find("vm101"), nullptr);
    EXPECT_EQ(store.find_by_digest(secret_digest("secret-of-vm101"))->name, "vm101");
    EXPECT_EQ(store.find_by_digest(secret_digest("secret-of-vm102")), nullptr);
  }
  auto store = TokenStore::open(tmp.path());
  EXPECT_EQ(store.tokens().size(), 2u);
  EXPECT_EQ(*store.find("vm101"), token("vm101", {"register:emitter"}));
  EXPECT_EQ(*store.find("ops"), token("ops", {"admin"}, 1800000000));
  EXPECT_EQ(store.find("vm102"), nullptr);
  EXPECT_EQ(store.find_by_digest(secret_digest("secret-of-ops"))->name, "ops");
  // The file holds digests, not secrets.
  EXPECT_THAT(read_file(store.file()), ::testing::Not(HasSubstr("secret-of-")));
  EXPECT_EQ(std::filesystem::status(store.file()).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(TokenStore, InvalidTokenNeverReachesTheFile) {
  TempDir tmp;
  auto store = TokenStore::open(tmp.path());
  const auto size = store.file_size();
  Token bad = token("vm101");
  bad.digest = "not-hex";
  EXPECT_EQ(store.put(bad), StoreErrc::invalid_record);
  EXPECT_EQ(store.file_size(), size);
  EXPECT_EQ(store.find("vm101"), nullptr);
}

TEST(TokenStore, SharesTheDataDirectoryWithTheRoutes) {
  TempDir tmp;
  const model::Route web{"web", "", {{"1", 100}}, 0};
  {
    auto dir = DataDir::open(tmp.path());
    auto tokens = TokenStore::open(dir);
    auto routes = RouteStore::open(dir);
    ASSERT_FALSE(tokens.put(token("vm101")));
    ASSERT_FALSE(routes.put(web));
    // One log per file: a second token store on the same directory would interleave records.
    EXPECT_THROW(TokenStore::open(dir), StoreError);
    // And another process (here: another DataDir) is refused the directory.
    EXPECT_THROW(TokenStore::open(tmp.path()), StoreError);
  }
  auto dir = DataDir::open(tmp.path());
  EXPECT_NE(TokenStore::open(dir).find("vm101"), nullptr);
  EXPECT_EQ(RouteStore::open(dir).get("web", ""), web);
}

TEST(TokenStore, TornTailIsCutAndTheRestLoads) {
  TempDir tmp;
  std::uint64_t good = 0;
  {
    auto store = TokenStore::open(tmp.path());
    ASSERT_FALSE(store.put(token("vm101")));
    good = store.file_size();
    ASSERT_FALSE(store.put(token("vm102")));
  }
  const auto file = tmp.path() / "tokens.log";
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 5);
  auto store = TokenStore::open(tmp.path());
  EXPECT_TRUE(store.recovery().dropped);
  EXPECT_EQ(store.recovery().offset, good);
  EXPECT_THAT(store.recovery().message, HasSubstr("tokens.log: dropped a torn tail"));
  EXPECT_NE(store.find("vm101"), nullptr);
  EXPECT_EQ(store.find("vm102"), nullptr);
}

// Random secrets never share a digest, but a file could hold two tokens with one: removing
// either leaves the other findable.
TEST(TokenStore, TokensSharingADigestStayFindable) {
  TempDir tmp;
  auto store = TokenStore::open(tmp.path());
  Token a = token("a"), b = token("b");
  b.digest = a.digest;
  for (const auto& [first, second] : {std::pair{"b", "a"}, std::pair{"a", "b"}}) {
    SCOPED_TRACE(std::string("removing ") + first + " first");
    ASSERT_FALSE(store.put(a));
    ASSERT_FALSE(store.put(b));
    ASSERT_FALSE(store.remove(first));
    ASSERT_NE(store.find_by_digest(a.digest), nullptr);
    EXPECT_EQ(store.find_by_digest(a.digest)->name, second);
    ASSERT_FALSE(store.remove(second));
    EXPECT_EQ(store.find_by_digest(a.digest), nullptr);
  }
}

}  // namespace
}  // namespace dstack::directory
