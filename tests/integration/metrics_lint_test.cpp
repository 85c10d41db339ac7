// SPDX-License-Identifier: Apache-2.0
// Every daemon's /metrics as a Prometheus server would scrape it, checked by Debian's promtool
// (`promtool check metrics`: the text parses, every family has HELP and TYPE, counters end in
// _total, names follow the conventions). Any finding fails the test. Names: docs/metrics.md.
#include <gtest/gtest.h>

#include <cstdlib>

#include "sherlock_fixture.hpp"
#include "watson_test.hpp"

namespace dstack::test {
namespace {

struct Lint {
  std::optional<int> status;
  std::string findings;  // what promtool printed
};

// Runs `promtool check metrics` on `text`; install-deps puts promtool on the PATH.
Lint promtool(const std::string& text) {
  TempDir tmp;
  auto file = tmp.write("metrics.txt", text);
  auto r = run_to_end({"/bin/sh", "-c", "exec promtool check metrics < '" + file.string() + "'"},
                      tmp.path(), 30s);
  return {r.status, r.out + r.err};
}

std::string scrape(std::uint16_t port) {
  auto r = http(port, "GET", "/metrics");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4");
  return r.body;
}

TEST(MetricsLint, PromtoolFindsWhatItShould) {
  // So a clean result below means clean output, not a linter that never complains.
  auto lint = promtool("# TYPE dstack_x_checks counter\ndstack_x_checks 1\n");
  ASSERT_TRUE(lint.status) << "promtool did not finish";
  EXPECT_NE(*lint.status, 0);
  EXPECT_NE(lint.findings.find("no help text"), std::string::npos) << lint.findings;
  EXPECT_NE(lint.findings.find("_total"), std::string::npos) << lint.findings;
}

class MetricsLintDaemons : public WatsonTest {};

TEST_F(MetricsLintDaemons, EveryDaemonsMetricsPassPromtool) {
  TestService svc;
  start({.services = {{"emitter.yaml", http_service("emitter", svc)}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  ASSERT_EQ(
      dir_.put("/v1/routes/emitter", json::parse(R"({"targets":[{"version":"1","weight":100}]})"))
          .status,
      200);
  LineStream watch(dir_.port(), "/v1/watch");  // so the watcher families have a sample
  ASSERT_EQ(watch.head().status, 200);

  Sherlock sherlock({.directories = {url_of(dir_)}});
  sherlock.start();
  ASSERT_TRUE(sherlock.wait_applied("emitter", 1));

  struct Daemon {
    const char* name;
    std::uint16_t port;
    const char* sample;  // proof the scrape holds the daemon's own families
  };
  for (const Daemon& d : {Daemon{"directory", dir_.port(), "dstack_directory_instances 1\n"},
                          Daemon{"watson", watsons_.front()->port(),
                                 "dstack_watson_checks_total{service=\"emitter\""},
                          Daemon{"sherlock", sherlock.api_port(), "dstack_sherlock_servers 1\n"}}) {
    SCOPED_TRACE(d.name);
    const auto text = scrape(d.port);
    EXPECT_NE(text.find(d.sample), std::string::npos) << text;
    auto lint = promtool(text);
    ASSERT_TRUE(lint.status) << "promtool did not finish";
    EXPECT_EQ(*lint.status, 0) << lint.findings << "\n---\n" << text;
    EXPECT_EQ(lint.findings, "") << text;
  }
}

}  // namespace
}  // namespace dstack::test
