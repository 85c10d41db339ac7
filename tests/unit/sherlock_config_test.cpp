// SPDX-License-Identifier: Apache-2.0
// sherlock.yaml: every key mapped, the defaults, and each problem pinned with its position.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/config/reader.hpp"
#include "sherlock/sherlock_config.hpp"
#include "temp_dir.hpp"

namespace dstack::sherlock {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::StartsWith;

class SherlockConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    const auto path = (tmp_.path() / name).string();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path;
  }
  // Problem lines without the file name in front.
  std::vector<std::string> problems(const std::string& text) {
    const auto path = write("sherlock.yaml", text);
    try {
      load_sherlock_config(path, true);
    } catch (const config::ConfigError& e) {
      std::vector<std::string> out;
      for (const auto& l : e.lines())
        out.push_back(l.rfind(path + ":", 0) == 0 ? l.substr(path.size() + 1) : "<other> " + l);
      return out;
    }
    return {};
  }
  test::TempDir tmp_;
};

TEST_F(SherlockConfigTest, Defaults) {
  auto cfg = load_sherlock_config(write("sherlock.yaml", "# nothing\n"), true);
  ASSERT_EQ(cfg.directories.size(), 1u);
  EXPECT_EQ(cfg.directories[0].to_string(), "http://127.0.0.1:7400");
  EXPECT_EQ(cfg.consumer, default_consumer_name());  // the host name
  EXPECT_FALSE(cfg.consumer.empty());
  EXPECT_TRUE(cfg.insight);
  EXPECT_EQ(cfg.report_interval, std::chrono::seconds(5));
  EXPECT_EQ(cfg.proxy.to_string(), "127.0.0.1:8000");
  EXPECT_EQ(cfg.version_header, "X-Dstack-Version");
  EXPECT_TRUE(cfg.tcp.empty());
  EXPECT_EQ(cfg.haproxy, HaproxySettings{});
  EXPECT_EQ(cfg.haproxy.binary, "/usr/sbin/haproxy");
  EXPECT_EQ(cfg.haproxy.manage, HaproxySettings::Manage::child);
  EXPECT_EQ(cfg.state_dir, "/var/lib/sherlock");
  EXPECT_EQ(cfg.listen.to_string(), "127.0.0.1:7402");
  EXPECT_EQ(cfg.log_level, "info");
}

TEST_F(SherlockConfigTest, FullFileMapsToTheStruct) {
  auto cfg = load_sherlock_config(
      write("sherlock.yaml", R"(directories: [//dir1/services/directory, "dir2:7500"]
consumer: monolith
proxy: {listen: "127.0.0.1:9000"}
tcp: {mongo: 27017, redis.cache: 6379}
haproxy:
  binary: /opt/haproxy/sbin/haproxy
  run_dir: /run/sherlock-test
  manage: external
  reload_command: systemctl reload haproxy
  min_reload_interval: 5s
  retries: 3
  health_check_interval: 500ms
  ca_file: /etc/ssl/certs/ca-certificates.crt
  timeouts: {connect: 1s, client: 1m, server: 2m, check: 300ms, tunnel: 2h}
  extra_global: ["maxconn 50000"]
  extra_defaults: ["option http-keep-alive", "timeout http-request 5s"]
state_dir: /srv/sherlock
directory_ca_file: /etc/ssl/certs/ca-certificates.crt
listen: 127.0.0.1:7502
log_level: debug
)"),
      true);
  ASSERT_EQ(cfg.directories.size(), 2u);
  EXPECT_EQ(cfg.directories[0].to_string(), "http://dir1:7400");
  EXPECT_EQ(cfg.directories[1].to_string(), "http://dir2:7500");
  EXPECT_EQ(cfg.consumer, "monolith");
  EXPECT_EQ(cfg.proxy.port, 9000);
  EXPECT_EQ(cfg.tcp,
            (std::map<std::string, std::uint16_t>{{"mongo", 27017}, {"redis.cache", 6379}}));
  const auto& h = cfg.haproxy;
  EXPECT_EQ(h.binary, "/opt/haproxy/sbin/haproxy");
  EXPECT_EQ(h.run_dir, "/run/sherlock-test");
  EXPECT_EQ(h.manage, HaproxySettings::Manage::external);
  EXPECT_EQ(h.reload_command, "systemctl reload haproxy");
  EXPECT_EQ(h.min_reload_interval, 5s);
  EXPECT_EQ(h.retries, 3);
  EXPECT_EQ(h.health_check_interval, 500ms);
  EXPECT_EQ(h.ca_file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(h.timeouts.connect, 1s);
  EXPECT_EQ(h.timeouts.client, 60s);
  EXPECT_EQ(h.timeouts.server, 120s);
  EXPECT_EQ(h.timeouts.check, 300ms);
  EXPECT_EQ(h.timeouts.tunnel, 2h);
  EXPECT_THAT(h.extra_global, ElementsAre("maxconn 50000"));
  EXPECT_THAT(h.extra_defaults, ElementsAre("option http-keep-alive", "timeout http-request 5s"));
  EXPECT_EQ(cfg.state_dir, "/srv/sherlock");
  EXPECT_EQ(cfg.directory_ca_file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(cfg.listen.port, 7502);
  EXPECT_EQ(cfg.log_level, "debug");
}

TEST_F(SherlockConfigTest, ProblemsNameTheKeyAndPosition) {
  EXPECT_THAT(problems("consumer: Mono Lith\n"),
              ElementsAre(StartsWith("1:11: consumer: \"Mono Lith\" is invalid: must match")));
  EXPECT_THAT(problems("proxy: {listen: \"127.0.0.1:0\"}\n"),
              ElementsAre(StartsWith("1:17: proxy.listen: ")));
  EXPECT_THAT(problems("tcp: {Mongo: 27017}\n"),
              ElementsAre(StartsWith("1:14: tcp.Mongo: \"Mongo\" is invalid")));
  EXPECT_THAT(problems("tcp: {mongo: 70000}\n"),
              ElementsAre("1:14: tcp.mongo: 70000 is out of range 1..65535"));
  EXPECT_THAT(problems("tcp: {a: 27017, b: 27017}\n"),
              ElementsAre("1:20: tcp.b: port 27017 is given to another service too"));
  EXPECT_THAT(problems("tcp: {a: 8000}\n"),
              ElementsAre("1:10: tcp.a: port 8000 is the proxy's (proxy.listen)"));
  EXPECT_THAT(problems("haproxy: {manage: sidecar}\n"),
              ElementsAre(StartsWith("1:19: haproxy.manage: ")));
  EXPECT_THAT(
      problems("haproxy: {manage: external}\n"),
      ElementsAre(StartsWith("1:10: haproxy.reload_command: required with manage: external")));
  EXPECT_THAT(problems("haproxy: {binary: haproxy}\n"),
              ElementsAre("1:19: haproxy.binary: must be an absolute path"));
  EXPECT_THAT(problems("directory_ca_file: /nonexistent/ca.pem\n"),
              ElementsAre("1:20: directory_ca_file: cannot read /nonexistent/ca.pem: No such file "
                          "or directory"));
  EXPECT_THAT(problems("tls_cert: /etc/hostname\n"),
              ElementsAre("1:11: tls_cert: needs tls_cert and tls_key together"));
  EXPECT_THAT(problems("tls_cert: /etc/hostname\ntls_key: /etc/hostname\n"),
              ElementsAre(StartsWith("1:11: tls_cert: cert \"/etc/hostname\": ")));
  EXPECT_THAT(problems("haproxy: {ca_file: /nonexistent/ca.pem}\n"),
              ElementsAre("1:20: haproxy.ca_file: cannot read /nonexistent/ca.pem: No such file or "
                          "directory"));
  EXPECT_THAT(problems("haproxy: {retries: 11}\n"),
              ElementsAre("1:20: haproxy.retries: 11 is out of range 0..10"));
  EXPECT_THAT(problems("haproxy: {extra_global: [\"a\\nb\"]}\n"),
              ElementsAre(StartsWith("1:26: haproxy.extra_global[0]: must be one line")));
  EXPECT_THAT(problems("haproxy: {timeouts: {conect: 1s}}\n"),
              ElementsAre("1:22: haproxy.timeouts.conect: unknown key"));
  EXPECT_THAT(problems("listen: 127.0.0.1:8000\n"),
              ElementsAre("1:9: listen: is the same address as proxy.listen"));
  EXPECT_THAT(problems("token_file: /nonexistent/sherlock.token\n"),
              ElementsAre("1:13: token_file: \"/nonexistent/sherlock.token\": cannot read: No such "
                          "file or directory; an admin makes this host's token with `dw token "
                          "create NAME --policy ...` (docs/install.md#a-token-for-each-host)"));
  EXPECT_THAT(problems("access_log: access.log\n"),
              ElementsAre("1:13: access_log: must be an absolute path, or stdout"));
  EXPECT_EQ(parse_sherlock_config("access_log: stdout\n", "s.yaml").access_log, "stdout");
  EXPECT_THAT(problems("state_dir: relative/dir\nbogus: 1\n"),
              ElementsAre("1:12: state_dir: must be an absolute path", "2:1: bogus: unknown key"));
}

TEST_F(SherlockConfigTest, AnEtcdDirectoryTakesUserAndPasswordAsItsToken) {
  auto cfg = load_sherlock_config(
      write("sherlock.yaml", "directories: [etcd://e1]\ntoken_file: " + write("t", "abc\n") + "\n"),
      true);
  try {
    apply_overrides(cfg, {});
    ADD_FAILURE() << "a bearer token was taken for an etcd directory";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.lines(), ElementsAre("token_file: for etcd://e1:2379/dstack the token file must "
                                       "hold USER:PASSWORD (an etcd user)"));
  }
}

TEST_F(SherlockConfigTest, FlagsOverrideTheFile) {
  ::unsetenv("DSTACK_DIRECTORY");
  auto cfg = load_sherlock_config(write("sherlock.yaml", "directories: [a]\n"), true);
  apply_overrides(cfg, {{"//services/directory"}, 8100, "warn"});
  EXPECT_EQ(cfg.directories.at(0).to_string(), "http://services:7400");
  EXPECT_EQ(cfg.proxy.to_string(), "127.0.0.1:8100");
  EXPECT_EQ(cfg.log_level, "warn");
  try {
    apply_overrides(cfg, {{"ftp://x"}, 70000, "loud"});
    ADD_FAILURE() << "accepted bad flags";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.lines(),
                ElementsAre(StartsWith("-d: "), "--proxy-port: 70000 is out of range 1..65535",
                            StartsWith("--log-level: ")));
  }
}

// The packaged example states the defaults: it must load, and load to exactly them.
// etc/sherlock.yaml is what the package installs: the defaults, but for the host's own token,
// which an admin makes after installing (docs/install.md#a-token-for-each-host).
TEST_F(SherlockConfigTest, ExampleFileInEtcIsTheDefaultsAndAHostToken) {
  const auto etc =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "etc";
  std::ifstream in(etc / "sherlock.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string packaged = "token_file: /etc/datawire/sherlock.token\n";
  const auto at = text.find(packaged);
  ASSERT_NE(at, std::string::npos) << "etc/sherlock.yaml names no host token";
  const auto token = write("sherlock.token", "made-by-dw-token-create\n");
  text.replace(at, packaged.size(), "token_file: " + token + "\n");
  auto cfg = parse_sherlock_config(text, "sherlock.yaml");
  EXPECT_EQ(cfg.token, "made-by-dw-token-create");
  EXPECT_EQ(cfg.token_file, token);
  auto defaults = default_sherlock_config();
  ASSERT_EQ(cfg.directories.size(), 1u);
  EXPECT_EQ(cfg.directories[0].to_string(), defaults.directories[0].to_string());
  EXPECT_EQ(cfg.consumer, defaults.consumer);
  EXPECT_EQ(cfg.proxy.to_string(), defaults.proxy.to_string());
  EXPECT_EQ(cfg.tcp, defaults.tcp);
  EXPECT_EQ(cfg.haproxy, defaults.haproxy);
  EXPECT_EQ(cfg.state_dir, defaults.state_dir);
  EXPECT_EQ(cfg.listen.to_string(), defaults.listen.to_string());
  EXPECT_EQ(cfg.log_level, defaults.log_level);
}

// Header pinning's header (docs/sherlock.md#header-pinning): a header name, or "" for none;
// anything that could break out of HAProxy's req.hdr() is refused by name.
TEST_F(SherlockConfigTest, TheVersionHeaderIsAHeaderNameOrEmpty) {
  EXPECT_EQ(load_sherlock_config(write("a.yaml", "proxy: {version_header: X-Canary}\n"), true)
                .version_header,
            "X-Canary");
  EXPECT_EQ(
      load_sherlock_config(write("b.yaml", "proxy: {version_header: \"\"}\n"), true).version_header,
      "");
  const auto bad = problems("proxy: {version_header: \"x) if { always_true }\"}\n");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_THAT(bad[0], ::testing::HasSubstr("proxy.version_header"));
  EXPECT_THAT(bad[0], ::testing::HasSubstr("must be a header name of letters, digits and '-'"));
}

}  // namespace
}  // namespace dstack::sherlock
