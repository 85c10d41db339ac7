// SPDX-License-Identifier: Apache-2.0
// Which policy each request of the directory's API needs (docs/security.md#policies).
#include "directory/access.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dstack::directory {
namespace {

using model::Permission;
using Kind = model::Policy::Kind;

std::string needs(const std::string& method, const std::vector<std::string>& parts) {
  auto p = required_permission(method, parts);
  return p ? to_string(*p) : "nothing";
}

TEST(DirectoryAccessTest, HealthIsOpenToAnyone) {
  EXPECT_EQ(needs("GET", {"v1", "health"}), "nothing");
}

TEST(DirectoryAccessTest, EveryReadNeedsRead) {
  for (const auto& parts : std::vector<std::vector<std::string>>{{"metrics"},
                                                                 {"v1", "snapshot"},
                                                                 {"v1", "watch"},
                                                                 {"v1", "services"},
                                                                 {"v1", "services", "emitter"},
                                                                 {"v1", "routes", "emitter"},
                                                                 {"v1", "policies"},
                                                                 {"v1", "policies", "emitter"},
                                                                 {"v1", "leases", "ab12"}}) {
    EXPECT_EQ(needs("GET", parts), "read") << parts.back();
  }
}

TEST(DirectoryAccessTest, LeasesNeedARegisterPolicyForAnyService) {
  EXPECT_EQ(needs("POST", {"v1", "leases"}), "register (any service) or report");
  EXPECT_EQ(needs("PUT", {"v1", "leases", "ab12"}), "register (any service) or report");
  EXPECT_EQ(needs("DELETE", {"v1", "leases", "ab12"}), "register (any service) or report");
}

TEST(DirectoryAccessTest, InstancesNeedRegisterForTheirService) {
  EXPECT_EQ(needs("PUT", {"v1", "services", "payments", "instances", "a"}), "register:payments");
  EXPECT_EQ(needs("DELETE", {"v1", "services", "emitter", "instances", "a"}), "register:emitter");
  // The service as decoded from the path is what is checked, not its raw spelling.
  EXPECT_EQ(needs("PUT", {"v1", "services", "pay/ments", "instances", "a"}), "register:pay/ments");
}

TEST(DirectoryAccessTest, RoutesNeedRoutesForTheirService) {
  EXPECT_EQ(needs("PUT", {"v1", "routes", "emitter"}), "routes:emitter");
  EXPECT_EQ(needs("DELETE", {"v1", "routes", "payments"}), "routes:payments");
  // Rolling a route back sets it as a PUT would; reading what it would go back to is a read.
  EXPECT_EQ(needs("POST", {"v1", "routes", "payments", "rollback"}), "routes:payments");
  EXPECT_EQ(needs("GET", {"v1", "routes", "payments", "previous"}), "read");
  // A traffic policy says how a service's traffic goes, as its routes say where.
  EXPECT_EQ(needs("PUT", {"v1", "policies", "emitter"}), "routes:emitter");
  EXPECT_EQ(needs("DELETE", {"v1", "policies", "payments"}), "routes:payments");
  EXPECT_EQ(needs("POST", {"v1", "policies"}), "read");  // answered 405
}

TEST(DirectoryAccessTest, RolloutsNeedRoutesForTheirServiceAndConsumersReport) {
  // A rollout sets its service's route.
  EXPECT_EQ(needs("PUT", {"v1", "rollouts", "emitter"}), "routes:emitter");
  EXPECT_EQ(needs("DELETE", {"v1", "rollouts", "emitter"}), "routes:emitter");
  EXPECT_EQ(needs("POST", {"v1", "rollouts", "payments", "abort"}), "routes:payments");
  EXPECT_EQ(needs("GET", {"v1", "rollouts"}), "read");
  // A sherlock's registration and its traffic reports.
  EXPECT_EQ(needs("PUT", {"v1", "consumers", "web1"}), "report");
  EXPECT_EQ(needs("PUT", {"v1", "consumers", "web1", "traffic"}), "report");
  EXPECT_EQ(needs("GET", {"v1", "consumers"}), "read");
  EXPECT_EQ(needs("GET", {"v1", "traffic", "series"}), "read");
}

TEST(DirectoryAccessTest, TokensNeedAdminWhateverTheMethod) {
  EXPECT_EQ(needs("GET", {"v1", "tokens"}), "admin");
  EXPECT_EQ(needs("POST", {"v1", "tokens"}), "admin");
  EXPECT_EQ(needs("DELETE", {"v1", "tokens", "vm101"}), "admin");
}

TEST(DirectoryAccessTest, AMethodAPathDoesNotServeNeedsWhatItsReadNeeds) {
  // Answered 405 to those who may read it.
  EXPECT_EQ(needs("POST", {"v1", "snapshot"}), "read");
  EXPECT_EQ(needs("PUT", {"v1", "watch"}), "read");
  EXPECT_EQ(needs("PUT", {"v1", "services", "emitter"}), "read");
  EXPECT_EQ(needs("POST", {"metrics"}), "read");
}

TEST(DirectoryAccessTest, UnknownPathsNeedReadToAskAndAdminToWrite) {
  EXPECT_EQ(needs("GET", {"v1", "nothing"}), "read");
  EXPECT_EQ(needs("GET", {}), "read");
  EXPECT_EQ(needs("PUT", {"v1", "nothing"}), "admin");
  EXPECT_EQ(needs("PATCH", {"v2", "routes", "emitter"}), "admin");
  EXPECT_EQ(needs("PUT", {}), "admin");
  EXPECT_EQ(needs("POST", {"v1", "traffic", "series"}), "admin");
}

}  // namespace
}  // namespace dstack::directory
