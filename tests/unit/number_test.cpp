// SPDX-License-Identifier: Apache-2.0
// Numbers as operators type them (common/core/number.hpp): the whole text or nothing, and a
// ratio as a share or a percent.
#include "common/core/number.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace dstack {
namespace {

TEST(NumberTest, TheWholeTextMustBeTheNumber) {
  EXPECT_EQ(parse_number<int>("25"), 25);
  EXPECT_EQ(parse_number<std::uint64_t>("200"), 200u);
  EXPECT_EQ(parse_number<double>("1.5"), 1.5);
  for (const char* bad : {"", "12x", " 12", "1,5", "-"})
    EXPECT_FALSE(parse_number<int>(bad)) << bad;
  EXPECT_FALSE(parse_number<std::uint64_t>("-3"));
  EXPECT_FALSE(parse_number<double>("inf"));
  EXPECT_FALSE(parse_number<double>("nan"));
  EXPECT_FALSE(parse_number<int>("99999999999"));  // out of range
}

TEST(NumberTest, ARatioIsAShareOrAPercentFromNoneToAll) {
  EXPECT_DOUBLE_EQ(*parse_ratio("0.02"), 0.02);
  EXPECT_DOUBLE_EQ(*parse_ratio("2%"), 0.02);
  EXPECT_DOUBLE_EQ(*parse_ratio("100%"), 1);
  EXPECT_DOUBLE_EQ(*parse_ratio("0"), 0);
  for (const char* bad : {"", "%", "1.5", "150%", "-1%", "2 %", "lots", "1%%"})
    EXPECT_FALSE(parse_ratio(bad)) << bad;
}

}  // namespace
}  // namespace dstack
