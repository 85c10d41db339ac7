// SPDX-License-Identifier: Apache-2.0
#include "common/model/url.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dstack::model {
namespace {

InstanceUrl ok(std::string_view text) {
  auto r = parse_instance_url(text);
  if (auto* message = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << "refused " << text << ": " << *message;
    return {};
  }
  return std::get<InstanceUrl>(r);
}

// The message for text, or "" when the URL was accepted.
std::string refused(std::string_view text, std::string_view field = "url") {
  auto r = parse_instance_url(text, field);
  if (auto* message = std::get_if<std::string>(&r)) return *message;
  return "";
}

std::string rule(std::string_view text) {
  const std::string m = refused(text);
  const auto at = m.find("\" is invalid: ");
  return at == std::string::npos ? "" : m.substr(at + 14);
}

TEST(Url, ParsesAllParts) {
  const auto u = ok("https://api.example.com:8443/v1/base");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "api.example.com");
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.path, "/v1/base");
  EXPECT_FALSE(u.ipv6);
}

TEST(Url, DefaultPorts) {
  EXPECT_EQ(ok("http://a").port, 80);
  EXPECT_EQ(ok("https://a").port, 443);
  EXPECT_EQ(ok("tcp://db:5432").port, 5432);
}

TEST(Url, TcpNeedsAPortAndNoPath) {
  EXPECT_EQ(refused("tcp://db"), "url \"tcp://db\" is invalid: tcp URLs need a port");
  EXPECT_EQ(refused("tcp://db:5432/x"),
            "url \"tcp://db:5432/x\" is invalid: tcp URLs may not have a path");
  EXPECT_EQ(ok("tcp://db:5432/").path, "");
}

TEST(Url, Scheme) {
  EXPECT_EQ(refused("ftp://x"), "url \"ftp://x\" is invalid: scheme must be http, https or tcp");
  EXPECT_EQ(rule("://x"), "scheme must be http, https or tcp");
  EXPECT_EQ(refused("HTTP://x"),
            "url \"HTTP://x\" is invalid: scheme must be written in lowercase");
  EXPECT_EQ(refused("example.com"),
            "url \"example.com\" is invalid: must start with http://, https:// or tcp://");
  EXPECT_EQ(rule("http:/x"), "must start with http://, https:// or tcp://");
  EXPECT_EQ(rule(""), "must start with http://, https:// or tcp://");
}

TEST(Url, UsesTheGivenFieldName) {
  EXPECT_EQ(refused("ftp://x", "instances[0].url"),
            "instances[0].url \"ftp://x\" is invalid: scheme must be http, https or tcp");
}

TEST(Url, HostMissing) {
  EXPECT_EQ(refused("http://"), "url \"http://\" is invalid: host is missing");
  EXPECT_EQ(rule("http:///path"), "host is missing");
  EXPECT_EQ(rule("http://:80"), "host is missing");
}

TEST(Url, HostCharacters) {
  EXPECT_EQ(refused("http://a b"),
            "url \"http://a b\" is invalid: host may hold only letters, digits, '-' and '.'");
  for (std::string bad : {"http://a_b", "http://a\"b", "http://a\nb", "http://a?b", "http://a#b",
                          "http://a\\b", "http://caf\xc3\xa9.example", "http://a]b"}) {
    EXPECT_EQ(rule(bad), "host may hold only letters, digits, '-' and '.'") << bad;
  }
}

TEST(Url, HostLabels) {
  EXPECT_EQ(ok("http://a-b.c-d.example").host, "a-b.c-d.example");
  EXPECT_EQ(ok("http://LocalHost").host, "LocalHost");
  EXPECT_EQ(rule("http://-a.example"), "host labels may not start or end with '-'");
  EXPECT_EQ(rule("http://a-.example"), "host labels may not start or end with '-'");
  EXPECT_EQ(rule("http://.a"), "host has an empty label (a leading, trailing or doubled '.')");
  EXPECT_EQ(rule("http://a..b"), "host has an empty label (a leading, trailing or doubled '.')");
  EXPECT_EQ(rule("http://a."), "host has an empty label (a leading, trailing or doubled '.')");
  EXPECT_EQ(ok("http://" + std::string(63, 'a') + ".b").port, 80);
  EXPECT_EQ(rule("http://" + std::string(64, 'a') + ".b"),
            "host labels may be at most 63 characters");
}

TEST(Url, HostLengthLimitIs253) {
  // 4 labels of 63 plus 3 dots = 255; trim to exactly 253 and 254.
  std::string host = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                     std::string(63, 'c') + "." + std::string(61, 'd');
  ASSERT_EQ(host.size(), 253u);
  EXPECT_EQ(ok("http://" + host).host, host);
  EXPECT_EQ(rule("http://" + host + "d"), "host is longer than 253 characters");
}

TEST(Url, Ipv4) {
  EXPECT_EQ(ok("http://10.0.0.1:8080").host, "10.0.0.1");
  EXPECT_EQ(ok("http://255.255.255.255").host, "255.255.255.255");
  for (std::string bad : {"http://256.0.0.1", "http://1.2.3", "http://1.2.3.4.5",
                          "http://010.0.0.1", "http://1234.0.0.1", "http://8080"}) {
    EXPECT_EQ(rule(bad), "host is not a valid IPv4 address") << bad;
  }
}

TEST(Url, Ipv6) {
  const auto u = ok("http://[2001:db8::1]:8080/x");
  EXPECT_EQ(u.host, "2001:db8::1");
  EXPECT_TRUE(u.ipv6);
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.path, "/x");
  EXPECT_EQ(ok("https://[::1]").port, 443);
  EXPECT_EQ(ok("tcp://[::ffff:10.0.0.1]:5432").host, "::ffff:10.0.0.1");
  EXPECT_EQ(refused("http://[::1"),
            "url \"http://[::1\" is invalid: IPv6 address is missing its closing ']'");
  EXPECT_EQ(rule("http://[fe80::1%25eth0]"), "IPv6 address may hold only hex digits, ':' and '.'");
  EXPECT_EQ(rule("http://[::1 ]"), "IPv6 address may hold only hex digits, ':' and '.'");
  EXPECT_EQ(rule("http://[]"), "IPv6 address is not valid");
  EXPECT_EQ(rule("http://[1:2:3]"), "IPv6 address is not valid");
  EXPECT_EQ(rule("http://[::1]80"), "expected ':' and a port after ']'");
  EXPECT_EQ(rule("http://[::1]:0"), "port must be a number from 1 to 65535");
}

TEST(Url, Ports) {
  EXPECT_EQ(ok("http://a:1").port, 1);
  EXPECT_EQ(ok("http://a:65535").port, 65535);
  EXPECT_EQ(refused("http://a:0"),
            "url \"http://a:0\" is invalid: port must be a number from 1 to 65535");
  for (std::string bad :
       {"http://a:65536", "http://a:", "http://a:-1", "http://a:+80", "http://a:8 0",
        "http://a:99999999999999999999", "http://a:80:80", "http://a:http"}) {
    EXPECT_EQ(rule(bad), "port must be a number from 1 to 65535") << bad;
  }
}

TEST(Url, NoUserinfo) {
  EXPECT_EQ(refused("http://user@host"),
            "url \"http://user@host\" is invalid: user information (user@host) is not allowed");
  EXPECT_EQ(rule("http://user:pw@host:80/x"), "user information (user@host) is not allowed");
  EXPECT_EQ(ok("http://host/a@b").path, "/a@b");
}

TEST(Url, PathCharacters) {
  EXPECT_EQ(ok("http://a/v1/x-y_z.~!&()*+,;=:@%2Fq%24%27").path,
            "/v1/x-y_z.~!&()*+,;=:@%2Fq%24%27");
  EXPECT_EQ(ok("http://a/%aF").path, "/%aF");
  const std::string chars_rule = "path may hold only letters, digits and -._~!&()*+,;=:@/%";
  for (std::string bad :
       {"http://a/b c", "http://a/\"", "http://a/b\\c", "http://a/b#f", "http://a/b?q=1",
        "http://a/b\nserver evil 1.2.3.4:80", "http://a/b\r", "http://a/\t", "http://a/caf\xc3\xa9",
        "http://a/<x>", "http://a/{x}", "http://a/`x`", "http://a/${HOME}", "http://a/it's"}) {
    EXPECT_EQ(rule(bad), chars_rule) << bad;
  }
}

TEST(Url, PercentNeedsTwoHexDigits) {
  EXPECT_EQ(refused("http://a/%zz"),
            "url \"http://a/%zz\" is invalid: path has a '%' not followed by two hex digits");
  EXPECT_EQ(rule("http://a/%2"), "path has a '%' not followed by two hex digits");
  EXPECT_EQ(rule("http://a/%"), "path has a '%' not followed by two hex digits");
  EXPECT_EQ(rule("http://a/%g0"), "path has a '%' not followed by two hex digits");
}

TEST(Url, TrailingSlashIsStripped) {
  EXPECT_EQ(ok("http://a/").path, "");
  EXPECT_EQ(ok("http://a/api/").path, "/api");
  EXPECT_EQ(ok("http://a/api//").path, "/api");
  EXPECT_EQ(ok("http://a").path, "");
}

TEST(Url, InjectionAttemptsAreEscapedInTheMessage) {
  const std::string m = refused("http://a\nbackend evil\"x");
  EXPECT_EQ(
      m,
      "url \"http://a\\x0abackend evil\\\"x\" is invalid: host may hold only letters, digits, "
      "'-' and '.'");
  EXPECT_EQ(m.find('\n'), std::string::npos);
}

TEST(Url, LengthLimit) {
  const std::string base = "http://a/";
  EXPECT_EQ(ok(base + std::string(1024 - base.size(), 'p')).host, "a");
  const std::string long_url = base + std::string(1025 - base.size(), 'p');
  EXPECT_EQ(refused(long_url), "url \"" + long_url.substr(0, 80) +
                                   "...\" is invalid: must be at most 1024 characters");
}

}  // namespace
}  // namespace dstack::model
