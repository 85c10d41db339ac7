// SPDX-License-Identifier: Apache-2.0
// Addresses as users write them (docs/dw.md#directory-address): listen/peer host:port, and every
// form of the directory address, with the refusals pinned, and the -d / $DSTACK_DIRECTORY /
// config choice.

#include "common/net/address.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

#include "common/registry/address.hpp"
#include "common/registry/address_config.hpp"

namespace dstack {
namespace {

using net::HostPort;
using registry::DirectoryAddress;

// --- net::parse_host_port --------------------------------------------------------------------

HostPort hp(std::string_view text, std::uint16_t default_port = 7400) {
  auto r = net::parse_host_port(text, default_port);
  if (auto* why = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << "refused " << text << ": " << *why;
    return {};
  }
  return std::get<HostPort>(r);
}

std::string hp_refused(std::string_view text) {
  auto r = net::parse_host_port(text, 7400);
  if (auto* why = std::get_if<std::string>(&r)) return *why;
  return "<accepted>";
}

TEST(HostPortTest, HostAndPort) {
  auto a = hp("127.0.0.1:7400");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 7400);
  EXPECT_EQ(a.to_string(), "127.0.0.1:7400");
  auto b = hp("vm101.example-1_x:1");
  EXPECT_EQ(b.host, "vm101.example-1_x");
  EXPECT_EQ(b.port, 1);
  EXPECT_EQ(hp("vm101:65535").port, 65535);
}

TEST(HostPortTest, MissingPortTakesTheDefault) {
  auto a = hp("vm101", 2379);
  EXPECT_EQ(a.host, "vm101");
  EXPECT_EQ(a.port, 2379);
  EXPECT_EQ(a.to_string(), "vm101:2379");
}

TEST(HostPortTest, Ipv6InBrackets) {
  auto a = hp("[::1]:7401");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 7401);
  EXPECT_EQ(a.to_string(), "[::1]:7401");
  auto b = hp("[fe80::1]");
  EXPECT_EQ(b.host, "fe80::1");
  EXPECT_EQ(b.port, 7400);
  EXPECT_EQ(b.to_string(), "[fe80::1]:7400");
}

TEST(HostPortTest, Refusals) {
  EXPECT_EQ(hp_refused(""), "\"\": address is empty");
  EXPECT_EQ(hp_refused("::1"), "\"::1\": IPv6 addresses need brackets, like [::1]:7400");
  EXPECT_EQ(hp_refused("[::1"), "\"[::1\": missing ']' after IPv6 address");
  EXPECT_EQ(hp_refused("[::1]7400"), "\"[::1]7400\": expected ':' after ']'");
  EXPECT_EQ(hp_refused(":7400"), "\":7400\": host is missing");
  EXPECT_EQ(hp_refused("[]:7400"), "\"[]:7400\": host is missing");
  EXPECT_EQ(hp_refused("vm 101:80"),
            "\"vm 101:80\": host may hold only letters, digits, '.', '-', '_' and ':'");
  EXPECT_EQ(hp_refused("vm101/x"),
            "\"vm101/x\": host may hold only letters, digits, '.', '-', '_' and ':'");
  for (const char* bad : {"vm101:0", "vm101:65536", "vm101:99999", "vm101:", "vm101:http",
                          "vm101:-1", "vm101:80x", "[::1]:", "vm101:4294967297"}) {
    EXPECT_EQ(hp_refused(bad), "\"" + std::string(bad) + "\": port must be 1..65535");
  }
}

// --- registry::parse_directory_address -------------------------------------------------------

DirectoryAddress dir(std::string_view text) {
  auto r = registry::parse_directory_address(text);
  if (auto* why = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << "refused " << text << ": " << *why;
    return {};
  }
  return std::get<DirectoryAddress>(r);
}

std::string dir_refused(std::string_view text) {
  auto r = registry::parse_directory_address(text);
  if (auto* why = std::get_if<std::string>(&r)) return *why;
  return "<accepted as " + std::get<DirectoryAddress>(r).to_string() + ">";
}

TEST(DirectoryAddressTest, HttpWithAndWithoutPort) {
  auto a = dir("http://vm101:7500");
  EXPECT_EQ(a.kind, DirectoryAddress::Kind::directory);
  EXPECT_FALSE(a.tls);
  ASSERT_EQ(a.endpoints.size(), 1u);
  EXPECT_EQ(a.endpoints[0].host, "vm101");
  EXPECT_EQ(a.endpoints[0].port, 7500);
  EXPECT_EQ(a.to_string(), "http://vm101:7500");
  EXPECT_EQ(dir("http://vm101").to_string(), "http://vm101:7400");
  EXPECT_EQ(dir("http://vm101:7400/").to_string(), "http://vm101:7400");
  EXPECT_EQ(dir("http://[::1]:7400").to_string(), "http://[::1]:7400");
}

TEST(DirectoryAddressTest, Https) {
  auto a = dir("https://directory.example");
  EXPECT_TRUE(a.tls);
  EXPECT_EQ(a.kind, DirectoryAddress::Kind::directory);
  ASSERT_EQ(a.endpoints.size(), 1u);
  EXPECT_EQ(a.endpoints[0].port, 7400);
  EXPECT_EQ(a.to_string(), "https://directory.example:7400");
  EXPECT_EQ(dir("https://directory.example:8443").to_string(), "https://directory.example:8443");
}

TEST(DirectoryAddressTest, BareHostAndPortIsHttp) {
  auto a = dir("vm101:9000");
  EXPECT_FALSE(a.tls);
  EXPECT_EQ(a.kind, DirectoryAddress::Kind::directory);
  EXPECT_EQ(a.to_string(), "http://vm101:9000");
  EXPECT_EQ(dir("vm101").to_string(), "http://vm101:7400");
  EXPECT_EQ(dir("10.1.2.3").to_string(), "http://10.1.2.3:7400");
}

TEST(DirectoryAddressTest, SeedFormIsHttpOnPort7400) {
  // The seed's launch lines: `-d //services/directory`.
  auto a = dir("//services/directory");
  EXPECT_EQ(a.kind, DirectoryAddress::Kind::directory);
  EXPECT_FALSE(a.tls);
  ASSERT_EQ(a.endpoints.size(), 1u);
  EXPECT_EQ(a.endpoints[0].host, "services");
  EXPECT_EQ(a.endpoints[0].port, 7400);
  EXPECT_EQ(a.to_string(), "http://services:7400");
  EXPECT_EQ(dir("//services").to_string(), "http://services:7400");
  EXPECT_EQ(dir("//services/").to_string(), "http://services:7400");
  EXPECT_EQ(dir("//services/a/b/c").to_string(), "http://services:7400");
}

TEST(DirectoryAddressTest, EtcdWithSeveralHostsAndPrefix) {
  auto a = dir("etcd://h1:2379,h2:2380/prefix");
  EXPECT_EQ(a.kind, DirectoryAddress::Kind::etcd);
  ASSERT_EQ(a.endpoints.size(), 2u);
  EXPECT_EQ(a.endpoints[0].host, "h1");
  EXPECT_EQ(a.endpoints[0].port, 2379);
  EXPECT_EQ(a.endpoints[1].host, "h2");
  EXPECT_EQ(a.endpoints[1].port, 2380);
  EXPECT_EQ(a.prefix, "/prefix");
  EXPECT_EQ(a.to_string(), "etcd://h1:2379,h2:2380/prefix");
}

TEST(DirectoryAddressTest, EtcdDefaults) {
  auto a = dir("etcd://h1");
  EXPECT_EQ(a.kind, DirectoryAddress::Kind::etcd);
  ASSERT_EQ(a.endpoints.size(), 1u);
  EXPECT_EQ(a.endpoints[0].port, 2379);
  EXPECT_EQ(a.prefix, "/dstack");
  EXPECT_EQ(a.to_string(), "etcd://h1:2379/dstack");
  EXPECT_EQ(dir("etcd://h1:2379/").prefix, "/dstack");
  EXPECT_EQ(dir("etcd://h1,h2").to_string(), "etcd://h1:2379,h2:2379/dstack");
  EXPECT_EQ(dir("etcd://h1/a/b/").prefix, "/a/b");
}

// Found by directory_address_fuzz (docs/fuzzing.md): "//" was the prefix "/", so keys went
// under "//instances/", and the address as shown ("etcd://h1:2379/") read back as another one.
TEST(DirectoryAddressTest, EtcdPathOfSlashesOnlyIsTheDefaultPrefix) {
  EXPECT_EQ(dir("etcd://h1//").prefix, "/dstack");
  EXPECT_EQ(dir("etcds://h1:2379///").to_string(), "etcds://h1:2379/dstack");
  EXPECT_EQ(dir("etcd://h1/a//").prefix, "/a");
}

TEST(DirectoryAddressTest, EtcdsIsEtcdOverTls) {
  auto a = dir("etcds://h1:2379,h2/p");
  EXPECT_EQ(a.kind, DirectoryAddress::Kind::etcd);
  EXPECT_TRUE(a.tls);
  EXPECT_EQ(a.to_string(), "etcds://h1:2379,h2:2379/p");
  EXPECT_FALSE(dir("etcd://h1").tls);
}

TEST(DirectoryAddressTest, AnEtcdDirectoryTakesUserAndPasswordAsItsToken) {
  std::vector<DirectoryAddress> both{dir("http://d1"), dir("etcd://h1")};
  EXPECT_FALSE(registry::check_token_for(both, ""));
  EXPECT_FALSE(registry::check_token_for(both, "watson:s3cret:with:colons"));
  auto why = registry::check_token_for(both, "0123abcd");
  ASSERT_TRUE(why);
  EXPECT_THAT(*why, ::testing::HasSubstr("USER:PASSWORD"));
  EXPECT_THAT(*why, ::testing::HasSubstr("etcd://h1:2379/dstack"));
  EXPECT_TRUE(registry::check_token_for(both, ":nouser"));
  EXPECT_FALSE(registry::check_token_for({dir("http://d1")}, "0123abcd"));  // a bearer token
}

TEST(DirectoryAddressTest, Refusals) {
  EXPECT_EQ(dir_refused("ftp://vm101"),
            "directory address \"ftp://vm101\" is invalid: use http://, https://, etcd://, "
            "etcds://, //host or host[:port]");
  EXPECT_EQ(dir_refused(""), "directory address \"\" is invalid: host is missing");
  EXPECT_EQ(dir_refused("http://"), "directory address \"http://\" is invalid: host is missing");
  EXPECT_EQ(dir_refused("//"), "directory address \"//\" is invalid: host is missing");
  EXPECT_EQ(dir_refused("etcd:///dstack"),
            "directory address \"etcd:///dstack\" is invalid: host is missing");
  EXPECT_EQ(dir_refused("http://a:7400,b:7400"),
            "directory address \"http://a:7400,b:7400\" is invalid: only etcd:// addresses may "
            "list several hosts");
  EXPECT_EQ(dir_refused("vm101:99999"),
            "directory address \"vm101:99999\" is invalid: \"vm101:99999\": port must be "
            "1..65535");
  EXPECT_EQ(dir_refused("https://::1"),
            "directory address \"https://::1\" is invalid: \"::1\": IPv6 addresses need "
            "brackets, like [::1]:7400");
  EXPECT_EQ(dir_refused("etcd://h1,,h2"),
            "directory address \"etcd://h1,,h2\" is invalid: empty host in the list");
  EXPECT_EQ(dir_refused("etcd://h1:2379,"),
            "directory address \"etcd://h1:2379,\" is invalid: empty host in the list");
  EXPECT_EQ(dir_refused("etcd://h1:0"),
            "directory address \"etcd://h1:0\" is invalid: \"h1:0\": port must be 1..65535");
}

TEST(DirectoryAddressTest, HttpWithAPathIsRefused) {
  EXPECT_THAT(dir_refused("http://vm101/directory"),
              ::testing::StartsWith("directory address \"http://vm101/directory\" is invalid: a "
                                    "directory address has no path (did you mean //"));
  EXPECT_THAT(dir_refused("vm101:7400/x"), ::testing::HasSubstr("has no path"));
}

// The suggestion must name the host the user wrote, not some other machine.
TEST(DirectoryAddressTest, HttpWithAPathSuggestsTheSeedFormWithTheSameHost) {
  EXPECT_EQ(dir_refused("http://vm101/directory"),
            "directory address \"http://vm101/directory\" is invalid: a directory address has no "
            "path (did you mean //vm101/directory?)");
}

// --- registry::choose_directory_address ------------------------------------------------------

class ChooseDirectoryAddressTest : public ::testing::Test {
 protected:
  ChooseDirectoryAddressTest() {
    if (const char* v = ::getenv("DSTACK_DIRECTORY")) saved_ = v;
    ::unsetenv("DSTACK_DIRECTORY");
  }
  ~ChooseDirectoryAddressTest() override {
    if (saved_)
      ::setenv("DSTACK_DIRECTORY", saved_->c_str(), 1);
    else
      ::unsetenv("DSTACK_DIRECTORY");
  }
  std::optional<std::string> saved_;
};

TEST_F(ChooseDirectoryAddressTest, FlagWinsOverEverything) {
  ::setenv("DSTACK_DIRECTORY", "http://from-env:7400", 1);
  EXPECT_EQ(registry::choose_directory_address("//services/directory", "http://from-config"),
            "//services/directory");
}

TEST_F(ChooseDirectoryAddressTest, EnvironmentWinsOverTheConfigFile) {
  ::setenv("DSTACK_DIRECTORY", "http://from-env:7400", 1);
  EXPECT_EQ(registry::choose_directory_address("", "http://from-config"), "http://from-env:7400");
  EXPECT_EQ(registry::choose_directory_address("", ""), "http://from-env:7400");
}

TEST_F(ChooseDirectoryAddressTest, ConfigFileWhenNoFlagAndNoEnvironment) {
  EXPECT_EQ(registry::choose_directory_address("", "http://from-config"), "http://from-config");
  // An empty variable counts as not set.
  ::setenv("DSTACK_DIRECTORY", "", 1);
  EXPECT_EQ(registry::choose_directory_address("", "http://from-config"), "http://from-config");
}

TEST_F(ChooseDirectoryAddressTest, DefaultIsLoopback7400) {
  EXPECT_EQ(registry::choose_directory_address("", ""), "http://127.0.0.1:7400");
  ::setenv("DSTACK_DIRECTORY", "", 1);
  EXPECT_EQ(registry::choose_directory_address("", ""), "http://127.0.0.1:7400");
  EXPECT_EQ(dir(registry::choose_directory_address("", "")).to_string(), "http://127.0.0.1:7400");
}

}  // namespace
}  // namespace dstack
