// SPDX-License-Identifier: Apache-2.0
// The pieces of a handover that need no process: which binary it execs, and the host addresses
// one sherlock leaves the next.

#include "sherlock/handover.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"

namespace dstack::sherlock {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(SelfCommand, ARelativePathBecomesAbsoluteAndTheArgumentsAreKept) {
  char a0[] = "./bin/../sherlock", a1[] = "-c", a2[] = "/etc/datawire/sherlock.yaml";
  char* argv[] = {a0, a1, a2};
  auto self = self_command(3, argv);
  EXPECT_EQ(self.path, (fs::current_path() / "sherlock").string());
  EXPECT_EQ(self.argv,
            (std::vector<std::string>{"./bin/../sherlock", "-c", "/etc/datawire/sherlock.yaml"}));
}

TEST(SelfCommand, ABareNameIsFoundOnPath) {
  test::TempDir dir;
  const auto program = dir.path() / "sherlock-on-path";
  write(program, "#!/bin/sh\n");
  fs::permissions(program, fs::perms::owner_all);
  const char* path = ::getenv("PATH");
  const std::string old_path = path != nullptr ? path : "";
  ::setenv("PATH", ("/nonexistent:" + dir.path().string()).c_str(), 1);
  char a0[] = "sherlock-on-path";
  char* argv[] = {a0};
  auto self = self_command(1, argv);
  ::setenv("PATH", old_path.c_str(), 1);
  EXPECT_EQ(self.path, program.string());
  EXPECT_EQ(self.argv, std::vector<std::string>{"sherlock-on-path"});
}

TEST(HandoverAddresses, SavedAddressesAreTakenOnceThenGone) {
  test::TempDir dir;
  const std::map<std::string, std::string> addresses{{"vm101", "10.0.0.1"}, {"db", "fd00::2"}};
  save_handover_addresses(dir.path().string(), addresses);
  EXPECT_EQ(take_handover_addresses(dir.path().string()), addresses);
  EXPECT_FALSE(fs::exists(dir.path() / "handover-addresses.json"));
  EXPECT_TRUE(take_handover_addresses(dir.path().string()).empty());
}

TEST(HandoverAddresses, StaleOrMalformedFilesGiveNothingAndAreRemoved) {
  test::TempDir dir;
  const auto file = dir.path() / "handover-addresses.json";
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string fresh_addresses = R"(, "addresses": {"vm101": "10.0.0.1"}})";
  for (const std::string& text : {
           R"({"saved_at": )" + std::to_string(now - 3600) + fresh_addresses,  // an hour old
           R"({"saved_at": )" + std::to_string(now + 3600) + fresh_addresses,  // from the future
           std::string("not json"),
           std::string(R"({"addresses": {"vm101": "10.0.0.1"}})"),  // no time
           R"({"saved_at": )" + std::to_string(now) + R"(, "addresses": ["10.0.0.1"]})",
       }) {
    SCOPED_TRACE(text);
    write(file, text);
    EXPECT_TRUE(take_handover_addresses(dir.path().string()).empty());
    EXPECT_FALSE(fs::exists(file));
  }
  write(file, R"({"saved_at": )" + std::to_string(now) + fresh_addresses);
  EXPECT_EQ(take_handover_addresses(dir.path().string()).size(), 1u);
}

}  // namespace
}  // namespace dstack::sherlock
