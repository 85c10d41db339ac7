// SPDX-License-Identifier: Apache-2.0
// Durations as operators write them in config files and flags: "250ms", "3s", "1m30s".

#include "common/core/duration.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dstack {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("250ms"), Duration(250));
  EXPECT_EQ(parse_duration("3s"), Duration(3s));
  EXPECT_EQ(parse_duration("2m"), Duration(2min));
  EXPECT_EQ(parse_duration("1h"), Duration(1h));
  EXPECT_EQ(parse_duration("2d"), Duration(48h));
  EXPECT_EQ(parse_duration("0s"), Duration(0));
  EXPECT_EQ(parse_duration("0ms"), Duration(0));
}

TEST(DurationTest, ParsesCombinations) {
  EXPECT_EQ(parse_duration("1m30s"), Duration(90s));
  EXPECT_EQ(parse_duration("1h30m"), Duration(90min));
  EXPECT_EQ(parse_duration("1s500ms"), Duration(1500));
  EXPECT_EQ(parse_duration("1d2h3m4s5ms"), Duration(26h + 3min + 4s + 5ms));
}

TEST(DurationTest, RefusesBareNumbers) {
  // The unit would be a guess.
  EXPECT_FALSE(parse_duration("10"));
  EXPECT_FALSE(parse_duration("0"));
  EXPECT_FALSE(parse_duration("1m30"));
}

TEST(DurationTest, RefusesUnknownUnitsAndOtherText) {
  for (const char* text : {"", "s", "ms", "5sec", "5S", "5us", "5ns", "5w", "5y", "1.5s", "-1s",
                           "+1s", " 1s", "1s ", "1 s", "1s,2s", "soon", "1m30x"}) {
    EXPECT_FALSE(parse_duration(text).has_value()) << '"' << text << '"';
  }
}

TEST(DurationTest, RefusesMoreThanTenYears) {
  // Ten years of 366 days is the most; beyond is refused rather than overflowing.
  EXPECT_EQ(parse_duration("3660d"), Duration(3660 * 24h));
  EXPECT_FALSE(parse_duration("3661d"));
  EXPECT_FALSE(parse_duration("3660d1ms"));
  EXPECT_EQ(parse_duration("316224000000ms"), Duration(3660 * 24h));
  EXPECT_FALSE(parse_duration("316224000001ms"));
  EXPECT_FALSE(parse_duration("87841h"));
  EXPECT_FALSE(parse_duration("99999999999999999999999s"));
  EXPECT_FALSE(parse_duration("9223372036854775807ms"));
  EXPECT_FALSE(parse_duration("18446744073709551617ms"));
  EXPECT_FALSE(parse_duration("2000d2000d"));
}

TEST(DurationTest, FormatsTheShortestExactForm) {
  EXPECT_EQ(format_duration(Duration(1500)), "1500ms");
  EXPECT_EQ(format_duration(Duration(3s)), "3s");
  EXPECT_EQ(format_duration(Duration(2min)), "2m");
  EXPECT_EQ(format_duration(Duration(90s)), "90s");
  EXPECT_EQ(format_duration(Duration(1h)), "1h");
  EXPECT_EQ(format_duration(Duration(24h)), "24h");
  EXPECT_EQ(format_duration(Duration(90min)), "90m");
  EXPECT_EQ(format_duration(Duration(1)), "1ms");
  EXPECT_EQ(format_duration(Duration(0)), "0s");
}

TEST(DurationTest, FormatThenParseGivesTheSameDuration) {
  for (Duration d :
       {Duration(0), Duration(1), Duration(999), Duration(1001), Duration(60s), Duration(61s),
        Duration(3599s), Duration(3600s), Duration(48h), Duration(3660 * 24h)}) {
    auto text = format_duration(d);
    EXPECT_EQ(parse_duration(text), d) << text;
  }
}

}  // namespace
}  // namespace dstack
