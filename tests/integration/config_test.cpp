// SPDX-License-Identifier: Apache-2.0
// directory.yaml and the command line as an operator meets them: --check-config, exit 78 with
// `file:line:col: key: problem`, exit 64 for usage errors, and the seed's -n/-a launch line.
#include <gtest/gtest.h>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

struct Run {
  int status;
  std::string out, err;
};

// Runs dstack-directory with `args` to completion (it must exit within 10 s).
Run run(const TempDir& tmp, std::vector<std::string> args) {
  args.insert(args.begin(), directory_binary());
  Process p(args, tmp.path());
  auto status = p.wait(10s);
  if (!status) throw std::runtime_error("dstack-directory did not exit within 10 s");
  return {*status, p.stdout_text(), p.stderr_text()};
}

const std::string kGood = R"(listen: 127.0.0.1:7400
data_dir: /var/lib/dstack-directory
log_level: info
lease:
  default_ttl: 10s
  min_ttl: 1s
  max_ttl: 5m
sync_grace: 20s
watch_keepalive: 5s
limits:
  max_body: 1MiB
  max_header: 16KiB
  idle_timeout: 60s
  request_timeout: 10s
  write_timeout: 10s
  max_connections: 10000
  watch_buffer: 8MiB
  max_instances_per_lease: 1000
  watch_history: 100000
)";

const std::string kBad = R"(listen: "127.0.0.1:99999"
lease:
  min_ttl: 10s
  max_ttl: 5s
limits:
  max_body: 12XB
  wieght: 3
log_level: loud
)";

TEST(Config, CheckConfigAcceptsAGoodFile) {
  TempDir tmp;
  auto file = tmp.write("directory.yaml", kGood);
  auto r = run(tmp, {"-c", file.string(), "--check-config"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, file.string() + ": ok\n");
  EXPECT_EQ(r.err, "");
}

TEST(Config, CheckConfigReportsEveryProblemWithFileLineColumnAndExits78) {
  TempDir tmp;
  auto file = tmp.write("directory.yaml", kBad).string();
  auto r = run(tmp, {"-c", file, "--check-config"});
  EXPECT_EQ(r.status, 78);
  EXPECT_EQ(r.out, "");
  for (auto line :
       {":1:9: listen: \"127.0.0.1:99999\": port must be 1..65535\n",
        ":3:12: lease.min_ttl: is above lease.max_ttl\n",
        ":6:13: limits.max_body: expected a size like 512, 16KiB or 1MiB, got \"12XB\"\n",
        ":7:3: limits.wieght: unknown key\n",
        ":8:12: log_level: \"loud\" is not a log level (trace, debug, info, warn, "
        "error, off)\n"})
    EXPECT_NE(r.err.find(file + line), std::string::npos) << "missing: " << line << "in:\n"
                                                          << r.err;
}

TEST(Config, TheDaemonExits78AtStartOnABadConfigAndServesNothing) {
  TempDir tmp;
  auto file = tmp.write("directory.yaml", kBad).string();
  const auto port = free_port();
  auto r = run(tmp, {"-c", file, "--listen", "127.0.0.1:" + std::to_string(port), "--data-dir",
                     (tmp.path() / "data").string()});
  EXPECT_EQ(r.status, 78);
  EXPECT_NE(r.err.find(file + ":7:3: limits.wieght: unknown key\n"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "data")) << "it touched its data dir";
}

TEST(Config, UnreadableOrInvalidYamlExits78) {
  TempDir tmp;
  auto missing = (tmp.path() / "missing.yaml").string();
  auto r = run(tmp, {"-c", missing, "--check-config"});
  EXPECT_EQ(r.status, 78);
  EXPECT_EQ(r.err, missing + ": cannot read: No such file or directory\n");

  auto broken = tmp.write("broken.yaml", "limits: [\n").string();
  r = run(tmp, {"-c", broken, "--check-config"});
  EXPECT_EQ(r.status, 78);
  EXPECT_EQ(r.err.rfind(broken + ":2:1: ", 0), 0u) << r.err;

  auto nested = tmp.write("tls.yaml", "tls:\n  cert: /etc/ssl/c.pem\n").string();
  r = run(tmp, {"-c", nested, "--check-config"});
  EXPECT_EQ(r.status, 78);
  EXPECT_EQ(r.err, nested +
                       ":2:9: tls.cert: \"/etc/ssl/c.pem\": cannot read: No such file or "
                       "directory\n" +
                       nested + ":2:3: tls.key: required\n");
}

TEST(Config, BadFlagsExit78AndUnknownFlagsExit64) {
  TempDir tmp;
  auto file = tmp.write("directory.yaml", "").string();
  auto r = run(tmp, {"-c", file, "--listen", "[::1", "--check-config"});
  EXPECT_EQ(r.status, 78);
  EXPECT_EQ(r.err.rfind("--listen: \"[::1\": ", 0), 0u) << r.err;

  r = run(tmp, {"-c", file, "--log-level", "loud", "--check-config"});
  EXPECT_EQ(r.status, 78);
  EXPECT_EQ(r.err,
            "--log-level: \"loud\" is not a log level (trace, debug, info, warn, error, off)\n");

  r = run(tmp, {"-c", file, "--no-such-flag"});
  EXPECT_EQ(r.status, 64);
  EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(see --help)"), std::string::npos) << r.err;

  r = run(tmp, {"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--check-config"), std::string::npos);
}

TEST(Config, FileValuesApplyAndFlagsOverrideThem) {
  // The file says one port, --listen another: the flag wins; the file's other keys still apply.
  const auto from_file = free_port();
  Directory d({.config = "listen: 127.0.0.1:" + std::to_string(from_file) +
                         "\nlease:\n  default_ttl: 7s\n"});
  d.start();
  EXPECT_NE(d.port(), from_file);
  EXPECT_EQ(body_json(d.request("POST", "/v1/leases"))["ttl"], 7);
}

TEST(Config, SeedLaunchLineIsAcceptedAndShownInHealth) {
  Directory d({.args = {"-n", "services", "-a", "//services/directory"}});
  d.start();
  auto j = body_json(d.get("/v1/health"));
  EXPECT_EQ(j["name"], "services");
  EXPECT_EQ(j["address"], "//services/directory");
  EXPECT_EQ(j["status"], "ok");
}

// docs/operations.md#every-daemon: a config error at start exits 78 with
// `file:line:col: key: problem`. A token file that the config names but that cannot be read is
// such an error.
TEST(Config, UnreadableTokenFileIsReportedAtItsLine) {
  TempDir tmp;
  const auto token = (tmp.path() / "no-token").string();
  auto file = tmp.write("directory.yaml", "log_level: info\ntoken_file: " + token + "\n").string();
  auto r = run(tmp, {"-c", file, "--check-config"});
  EXPECT_EQ(r.status, 78);
  EXPECT_EQ(r.err, file + ":2:13: token_file: \"" + token +
                       "\": cannot read: No such file or directory\n");
}

// The same for TLS files: the operator must learn which file and why, with exit 78.
TEST(Config, MissingTlsCertificateIsAConfigError) {
  TempDir tmp;
  const auto cert = (tmp.path() / "no-cert.pem").string();
  auto file =
      tmp.write("directory.yaml", "tls:\n  cert: " + cert + "\n  key: " + cert + "\n").string();
  auto r = run(tmp, {"-c", file, "--listen", "127.0.0.1:" + std::to_string(free_port()),
                     "--data-dir", (tmp.path() / "data").string()});
  EXPECT_EQ(r.status, 78) << r.err;
  EXPECT_NE(r.err.find(cert), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos)
      << "the reason is missing: " << r.err;
}

}  // namespace
}  // namespace dstack::test
