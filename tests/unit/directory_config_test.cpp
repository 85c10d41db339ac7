// SPDX-License-Identifier: Apache-2.0
// directory.yaml (docs/directory.md#directoryyaml): defaults, every key mapped, and every
// problem an operator can see, pinned as the exact `file:line:col: key: problem` line.

#include "directory/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/config/reader.hpp"
#include "unit/temp_dir.hpp"

namespace dstack::directory {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::ElementsAre;

class DirectoryConfigTest : public ::testing::Test {
 protected:
  DirectoryConfigTest() : dir_(tmp_.path()), path_((dir_ / "directory.yaml").string()) {}

  void write(std::string_view text) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }

  // A token file in the test's directory holding `text`; returns its path.
  std::string token_file(std::string_view text) {
    auto path = (dir_ / ("token" + std::to_string(tokens_++))).string();
    std::ofstream(path) << text;
    return path;
  }

  DirectoryConfig load(std::string_view text) {
    write(text);
    return load_config(path_, true);
  }

  // The problem lines for `text`, each with the file's path taken off its front so the
  // expectations read like the file: "1:9: listen: ...".
  std::vector<std::string> problems(std::string_view text) {
    write(text);
    try {
      load_config(path_, true);
    } catch (const config::ConfigError& e) {
      std::vector<std::string> out;
      for (const auto& l : e.lines()) {
        if (l.rfind(path_ + ":", 0) == 0)
          out.push_back(l.substr(path_.size() + 1));
        else
          out.push_back("<other file> " + l);
      }
      return out;
    }
    return {"<accepted>"};
  }

  test::TempDir tmp_;
  fs::path dir_;
  std::string path_;
  int tokens_ = 0;
};

void expect_defaults(const DirectoryConfig& cfg) {
  EXPECT_EQ(cfg.listen.host, "127.0.0.1");
  EXPECT_EQ(cfg.listen.port, 7400);
  EXPECT_EQ(cfg.data_dir, "/var/lib/dstack-directory");
  EXPECT_EQ(cfg.token_file, "");
  EXPECT_FALSE(cfg.tls.has_value());
  EXPECT_EQ(cfg.state.default_ttl, 10s);
  EXPECT_EQ(cfg.state.min_ttl, 1s);
  EXPECT_EQ(cfg.state.max_ttl, 60s);
  EXPECT_EQ(cfg.state.sync_grace, 0ms);  // 0: twice max_ttl
  EXPECT_EQ(cfg.state.max_instances_per_lease, 1000u);
  EXPECT_EQ(cfg.state.history, 10000u);
  EXPECT_EQ(cfg.limits.max_body, 1u << 20);     // 1 MiB: docs/directory.md#limits
  EXPECT_EQ(cfg.limits.max_header, 16u << 10);  // 16 KiB: docs/directory.md#limits
  EXPECT_EQ(cfg.limits.idle_timeout, 60s);
  EXPECT_EQ(cfg.limits.request_timeout, 10s);
  EXPECT_EQ(cfg.limits.write_timeout, 10s);
  EXPECT_EQ(cfg.limits.max_connections, 10000u);
  EXPECT_EQ(cfg.limits.max_stream_buffer, 8u << 20);
  EXPECT_EQ(cfg.watch_keepalive, 5s);
  EXPECT_TRUE(cfg.watch_io_uring);
  EXPECT_EQ(cfg.log_level, "info");
}

// --- loading ---------------------------------------------------------------------------------

TEST_F(DirectoryConfigTest, MissingFileAtTheDefaultPathGivesTheDefaults) {
  expect_defaults(load_config((dir_ / "absent.yaml").string(), false));
}

TEST_F(DirectoryConfigTest, MissingFileThatWasAskedForIsAnError) {
  const std::string absent = (dir_ / "absent.yaml").string();
  try {
    load_config(absent, true);
    FAIL() << "accepted a missing file";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.lines(), ElementsAre(absent + ": cannot read: No such file or directory"));
  }
}

TEST_F(DirectoryConfigTest, FileAtTheDefaultPathIsReadWhenItExists) {
  write("listen: 0.0.0.0:7400\n");
  EXPECT_EQ(load_config(path_, false).listen.host, "0.0.0.0");
  write("log_level: loud\n");
  EXPECT_THROW(load_config(path_, false), config::ConfigError);
}

TEST_F(DirectoryConfigTest, EmptyFileGivesTheDefaults) {
  expect_defaults(load("# nothing here\n"));
}

TEST_F(DirectoryConfigTest, FullFileMapsToTheStruct) {
  auto token = token_file("s3cret\n");
  auto cfg = load(R"(listen: 0.0.0.0:7500
data_dir: /srv/directory
token_file: )" + token +
                  R"(
log_level: debug
lease:
  default_ttl: 15s
  min_ttl: 2s
  max_ttl: 2m
sync_grace: 90s
watch_keepalive: 2s
limits:
  max_body: 2MiB
  max_header: 32KiB
  idle_timeout: 30s
  request_timeout: 5s
  write_timeout: 7s
  max_connections: 500
  watch_buffer: 1MiB
  max_instances_per_lease: 50
  watch_history: 2000
)");
  EXPECT_EQ(cfg.listen.host, "0.0.0.0");
  EXPECT_EQ(cfg.listen.port, 7500);
  EXPECT_EQ(cfg.data_dir, "/srv/directory");
  EXPECT_EQ(cfg.token_file, token);
  EXPECT_EQ(cfg.token, "s3cret");
  EXPECT_EQ(cfg.log_level, "debug");
  EXPECT_EQ(cfg.state.default_ttl, 15s);
  EXPECT_EQ(cfg.state.min_ttl, 2s);
  EXPECT_EQ(cfg.state.max_ttl, 120s);
  EXPECT_EQ(cfg.state.sync_grace, 90s);
  EXPECT_EQ(cfg.watch_keepalive, 2s);
  EXPECT_EQ(cfg.limits.max_body, 2u << 20);
  EXPECT_EQ(cfg.limits.max_header, 32u << 10);
  EXPECT_EQ(cfg.limits.idle_timeout, 30s);
  EXPECT_EQ(cfg.limits.request_timeout, 5s);
  EXPECT_EQ(cfg.limits.write_timeout, 7s);
  EXPECT_EQ(cfg.limits.max_connections, 500u);
  EXPECT_EQ(cfg.limits.max_stream_buffer, 1u << 20);
  EXPECT_EQ(cfg.state.max_instances_per_lease, 50u);
  EXPECT_EQ(cfg.state.history, 2000u);
}

TEST_F(DirectoryConfigTest, WatchIoUringCanBeTurnedOff) {
  EXPECT_FALSE(load("watch_io_uring: false\n").watch_io_uring);
  EXPECT_TRUE(load("watch_io_uring: on\n").watch_io_uring);
  const auto found = problems("watch_io_uring: sometimes\n");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].find("watch_io_uring"), std::string::npos) << found[0];
  EXPECT_NE(found[0].find("sometimes"), std::string::npos) << found[0];
}

TEST_F(DirectoryConfigTest, Ipv6Listen) {
  auto cfg = load("listen: \"[::]:7400\"\n");
  EXPECT_EQ(cfg.listen.host, "::");
  EXPECT_EQ(cfg.listen.port, 7400);
}

// The files are read at load time, so --check-config catches them (valid PEM files are covered
// by the integration tests, which make a certificate).
TEST_F(DirectoryConfigTest, TlsAndTokenFilesMustBeReadable) {
  EXPECT_THAT(problems("tls:\n  cert: /c.pem\n  key: /k.pem\ntoken_file: /t\n"),
              ElementsAre("4:13: token_file: \"/t\": cannot read: No such file or directory",
                          "2:9: tls.cert: \"/c.pem\": cannot read: No such file or directory",
                          "3:8: tls.key: \"/k.pem\": cannot read: No such file or directory"));
  auto empty = token_file("\n");
  EXPECT_THAT(problems("token_file: " + empty + "\n"),
              ElementsAre("1:13: token_file: \"" + empty + "\": is empty"));
}

// A token a Bearer header cannot carry would pass the file check and authorise nothing.
TEST_F(DirectoryConfigTest, AdminTokenMustBeSendable) {
  auto spaced = token_file("correct horse battery\n");
  EXPECT_THAT(problems("token_file: " + spaced + "\n"),
              ElementsAre("1:13: token_file: the token holds a space, a control character or a "
                          "non-ASCII byte, which an Authorization: Bearer header cannot carry: use "
                          "printable ASCII only"));
  auto accented = token_file("caf\xc3\xa9\n");
  EXPECT_THAT(problems("token_file: " + accented + "\n"),
              ElementsAre(::testing::StartsWith("1:13: token_file: the token holds a space")));
}

// docs/security.md#requests-without-a-token: auth.anonymous, else read on a loopback listener
// and none on any other.
TEST_F(DirectoryConfigTest, AnonymousAccessFollowsTheListenerUnlessSet) {
  EXPECT_EQ(anonymous_access(load("")), Anonymous::read);
  for (auto listen : {"127.0.0.1:7400", "127.8.9.10:7400", "\"[::1]:7400\"", "localhost:7400"})
    EXPECT_EQ(anonymous_access(load(std::string("listen: ") + listen + "\n")), Anonymous::read)
        << listen;
  for (auto listen : {"0.0.0.0:7400", "10.0.0.5:7400", "\"[::]:7400\""})
    EXPECT_EQ(anonymous_access(load(std::string("listen: ") + listen + "\n")), Anonymous::none)
        << listen;
  EXPECT_EQ(anonymous_access(load("listen: 0.0.0.0:7400\nauth:\n  anonymous: read\n")),
            Anonymous::read);
  EXPECT_EQ(anonymous_access(load("auth:\n  anonymous: none\n")), Anonymous::none);
  EXPECT_THAT(problems("auth:\n  anonymous: all\n"),
              ElementsAre(::testing::StartsWith("2:14: auth.anonymous: ")));
  EXPECT_THAT(problems("auth:\n  anonymus: none\n"),
              ElementsAre("2:3: auth.anonymus: unknown key"));
}

TEST_F(DirectoryConfigTest, ListenWithoutPortUses7400) {
  auto cfg = load("listen: 10.0.0.5\n");
  EXPECT_EQ(cfg.listen.host, "10.0.0.5");
  EXPECT_EQ(cfg.listen.port, 7400);
}

// --- problems --------------------------------------------------------------------------------

TEST_F(DirectoryConfigTest, UnknownKeyAtTheTop) {
  EXPECT_THAT(problems("listen: 127.0.0.1:7400\nlistne: 1.2.3.4\n"),
              ElementsAre("2:1: listne: unknown key"));
}

TEST_F(DirectoryConfigTest, UnknownKeyNestedInLimitsAndLease) {
  EXPECT_THAT(problems("limits:\n  max_body: 2MiB\n  max_bodyy: 1\nlease:\n  ttl: 5s\n"),
              ElementsAre("3:3: limits.max_bodyy: unknown key", "5:3: lease.ttl: unknown key"));
}

TEST_F(DirectoryConfigTest, WrongTypes) {
  EXPECT_THAT(problems("lease: 5\n"), ElementsAre("1:8: lease: expected a map, got \"5\""));
  EXPECT_THAT(problems("listen: [a, b]\n"),
              ElementsAre("1:9: listen: expected a string, got a sequence"));
  EXPECT_THAT(problems("limits:\n  max_connections: many\n"),
              ElementsAre("2:20: limits.max_connections: expected an integer, got \"many\""));
  EXPECT_THAT(problems("lease:\n  default_ttl: soon\n"),
              ElementsAre("2:16: lease.default_ttl: expected a duration like 3s or 500ms, got "
                          "\"soon\""));
  EXPECT_THAT(problems("limits:\n  max_body: lots\n"),
              ElementsAre("2:13: limits.max_body: expected a size like 512, 16KiB or 1MiB, got "
                          "\"lots\""));
}

// Leases count whole seconds on the wire: 1500ms must not quietly become 1 s.
TEST_F(DirectoryConfigTest, LeaseDurationsMustBeWholeSeconds) {
  EXPECT_THAT(problems("lease:\n  default_ttl: 1500ms\n"),
              ElementsAre("2:16: lease.default_ttl: must be a whole number of seconds"));
}

TEST_F(DirectoryConfigTest, DurationsOutOfRange) {
  EXPECT_THAT(problems("lease:\n  max_ttl: 2d\n"),
              ElementsAre("2:12: lease.max_ttl: 2d is above the maximum 24h"));
  EXPECT_THAT(problems("lease:\n  min_ttl: 500ms\n"),
              ElementsAre("2:12: lease.min_ttl: 500ms is below the minimum 1s"));
  EXPECT_THAT(problems("sync_grace: 25h\n"),
              ElementsAre("1:13: sync_grace: 25h is above the maximum 24h"));
  EXPECT_THAT(problems("watch_keepalive: 50ms\n"),
              ElementsAre("1:18: watch_keepalive: 50ms is below the minimum 100ms"));
  EXPECT_THAT(problems("limits:\n  idle_timeout: 2h\n"),
              ElementsAre("2:17: limits.idle_timeout: 2h is above the maximum 1h"));
}

TEST_F(DirectoryConfigTest, SizesAndCountsOutOfRange) {
  EXPECT_THAT(problems("limits:\n  max_body: 100\n"),
              ElementsAre("2:13: limits.max_body: 100 is below the minimum 1KiB"));
  EXPECT_THAT(problems("limits:\n  max_body: 65MiB\n"),
              ElementsAre("2:13: limits.max_body: 65MiB is above the maximum 64MiB"));
  EXPECT_THAT(problems("limits:\n  max_header: 2MiB\n"),
              ElementsAre("2:15: limits.max_header: 2MiB is above the maximum 1MiB"));
  EXPECT_THAT(problems("limits:\n  watch_buffer: 1KiB\n"),
              ElementsAre("2:17: limits.watch_buffer: 1KiB is below the minimum 64KiB"));
  EXPECT_THAT(problems("limits:\n  max_connections: 0\n"),
              ElementsAre("2:20: limits.max_connections: 0 is out of range 1..1000000"));
  EXPECT_THAT(problems("limits:\n  max_instances_per_lease: 0\n"),
              ElementsAre("2:28: limits.max_instances_per_lease: 0 is out of range 1..1000000"));
}

TEST_F(DirectoryConfigTest, MinTtlAboveMaxTtl) {
  // No default_ttl can lie in an empty range, so that is reported too, where `lease` is.
  EXPECT_THAT(problems("lease:\n  min_ttl: 60s\n  max_ttl: 30s\n"),
              ElementsAre("2:12: lease.min_ttl: is above lease.max_ttl",
                          "2:3: lease.default_ttl: must lie between lease.min_ttl and "
                          "lease.max_ttl"));
}

TEST_F(DirectoryConfigTest, DefaultTtlOutsideMinMax) {
  EXPECT_THAT(problems("lease:\n  default_ttl: 400s\n"),
              ElementsAre("2:16: lease.default_ttl: must lie between lease.min_ttl and "
                          "lease.max_ttl"));
  EXPECT_THAT(problems("lease:\n  min_ttl: 5s\n  default_ttl: 3s\n"),
              ElementsAre("3:16: lease.default_ttl: must lie between lease.min_ttl and "
                          "lease.max_ttl"));
  // The default (10 s) above a lowered max_ttl is reported at the lease map.
  EXPECT_THAT(problems("lease:\n  max_ttl: 5s\n"),
              ElementsAre("2:3: lease.default_ttl: must lie between lease.min_ttl and "
                          "lease.max_ttl"));
}

TEST_F(DirectoryConfigTest, BadListenAddress) {
  EXPECT_THAT(problems("listen: \"vm101:99999\"\n"),
              ElementsAre("1:9: listen: \"vm101:99999\": port must be 1..65535"));
  EXPECT_THAT(problems("listen: \":7400\"\n"),
              ElementsAre("1:9: listen: \":7400\": host is missing"));
}

TEST_F(DirectoryConfigTest, BadLogLevel) {
  EXPECT_THAT(problems("log_level: loud\n"),
              ElementsAre("1:12: log_level: \"loud\" is not a log level (trace, debug, info, "
                          "warn, error, off)"));
}

TEST_F(DirectoryConfigTest, TlsMissingCertOrKey) {
  auto file = token_file("not a certificate\n");
  EXPECT_THAT(problems("tls:\n  key: " + file + "\n"), ElementsAre("2:3: tls.cert: required"));
  EXPECT_THAT(problems("tls:\n  cert: " + file + "\n"), ElementsAre("2:3: tls.key: required"));
}

TEST_F(DirectoryConfigTest, SeveralProblemsAreReportedAtOnce) {
  EXPECT_THAT(problems(R"(listen: "::1"
log_level: loud
lease:
  max_ttl: 1h
  bogus: 1
limits:
  max_body: 1
colour: blue
)"),
              ElementsAre("1:9: listen: \"::1\": IPv6 addresses need brackets, like [::1]:7400",
                          "2:12: log_level: \"loud\" is not a log level (trace, debug, info, "
                          "warn, error, off)",
                          "7:13: limits.max_body: 1 is below the minimum 1KiB",
                          "5:3: lease.bogus: unknown key", "8:1: colour: unknown key"));
}

// --- command-line overrides ------------------------------------------------------------------

TEST_F(DirectoryConfigTest, OverridesWinOverTheFile) {
  auto cfg = load("listen: 0.0.0.0:7500\ndata_dir: /srv/d\nlog_level: debug\n");
  auto token = token_file("t0ken\n");
  apply_overrides(cfg, "[::1]:7600", "/tmp/d", token, "warn");
  EXPECT_EQ(cfg.listen.host, "::1");
  EXPECT_EQ(cfg.listen.port, 7600);
  EXPECT_EQ(cfg.data_dir, "/tmp/d");
  EXPECT_EQ(cfg.token_file, token);
  EXPECT_EQ(cfg.token, "t0ken");
  EXPECT_EQ(cfg.log_level, "warn");
}

// --token-file replaces the file's token_file, so the file's one is not read at all.
TEST_F(DirectoryConfigTest, TokenFileFlagMeansTheFilesTokenIsNotRead) {
  write("token_file: /nonexistent/token\n");
  auto token = token_file("fl4g\n");
  auto cfg = load_config(path_, true, token);
  apply_overrides(cfg, "", "", token, "");
  EXPECT_EQ(cfg.token, "fl4g");
  EXPECT_EQ(cfg.token_file, token);
}

TEST_F(DirectoryConfigTest, EmptyOverridesKeepTheFile) {
  auto token = token_file("t\n");
  auto cfg =
      load("listen: 0.0.0.0:7500\ndata_dir: /srv/d\ntoken_file: " + token + "\nlog_level: debug\n");
  apply_overrides(cfg, "", "", "", "");
  EXPECT_EQ(cfg.listen.to_string(), "0.0.0.0:7500");
  EXPECT_EQ(cfg.data_dir, "/srv/d");
  EXPECT_EQ(cfg.token_file, token);
  EXPECT_EQ(cfg.log_level, "debug");
}

TEST_F(DirectoryConfigTest, InvalidOverridesNameTheFlag) {
  DirectoryConfig cfg;
  try {
    apply_overrides(cfg, "vm101:0", "", "", "");
    FAIL() << "accepted --listen vm101:0";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.lines(), ElementsAre("--listen: \"vm101:0\": port must be 1..65535"));
  }
  try {
    apply_overrides(cfg, "", "", "", "loud");
    FAIL() << "accepted --log-level loud";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.lines(), ElementsAre("--log-level: \"loud\" is not a log level (trace, debug, "
                                       "info, warn, error, off)"));
  }
  try {
    apply_overrides(cfg, "::1", "", "", "verbose");
    FAIL() << "accepted both";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.lines(),
                ElementsAre("--listen: \"::1\": IPv6 addresses need brackets, like [::1]:7400",
                            "--log-level: \"verbose\" is not a log level (trace, debug, info, "
                            "warn, error, off)"));
  }
  EXPECT_EQ(cfg.listen.to_string(), "127.0.0.1:7400");
  EXPECT_EQ(cfg.log_level, "info");
}

}  // namespace
}  // namespace dstack::directory
