// SPDX-License-Identifier: Apache-2.0
// Fd owns a descriptor: closed exactly once, by whoever holds it last.
#include "common/core/fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

namespace dstack {
namespace {

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

int open_null() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

TEST(FdTest, ClosesWhatItHoldsWhenItGoes) {
  int raw = open_null();
  {
    Fd fd(raw);
    EXPECT_TRUE(fd);
    EXPECT_EQ(fd.get(), raw);
  }
  EXPECT_FALSE(is_open(raw));
}

TEST(FdTest, AMoveHandsItOverAndTheMovedFromHolderClosesNothing) {
  int raw = open_null();
  Fd a(raw);
  Fd b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the point of the test
  { Fd gone(std::move(a)); }
  EXPECT_TRUE(is_open(raw));
  Fd c;
  c = std::move(b);
  EXPECT_TRUE(is_open(raw));
  EXPECT_EQ(c.get(), raw);
}

TEST(FdTest, AssigningOverAHolderClosesItsOldDescriptor) {
  int first = open_null(), second = open_null();
  Fd fd(first);
  fd = Fd(second);
  EXPECT_FALSE(is_open(first));
  EXPECT_TRUE(is_open(second));
  fd.reset();
  EXPECT_FALSE(is_open(second));
}

TEST(FdTest, ReleaseGivesItUpUnclosed) {
  int raw = open_null();
  {
    Fd fd(raw);
    EXPECT_EQ(fd.release(), raw);
    EXPECT_FALSE(fd);
  }
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

}  // namespace
}  // namespace dstack
