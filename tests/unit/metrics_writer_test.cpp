// SPDX-License-Identifier: Apache-2.0
// The one Prometheus writer: what a scraper reads from every daemon's /metrics. HELP and TYPE once
// per family, escaped label values, exact numbers, cumulative histogram buckets. Each daemon's
// real /metrics also goes through promtool in tests/integration/metrics_lint_test.cpp.

#include "common/metrics/writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace dstack::metrics {
namespace {

TEST(MetricsWriterTest, EachFamilyGetsHelpAndTypeOnceBeforeItsSamples) {
  Writer w;
  w.counter("dstack_x_checks_total", "Checks.", 3, {{"service", "a"}})
      .counter("dstack_x_checks_total", "Checks.", 4, {{"service", "b"}})
      .gauge("dstack_x_up", "1 while up.", 1);
  EXPECT_EQ(w.text(),
            "# HELP dstack_x_checks_total Checks.\n"
            "# TYPE dstack_x_checks_total counter\n"
            "dstack_x_checks_total{service=\"a\"} 3\n"
            "dstack_x_checks_total{service=\"b\"} 4\n"
            "# HELP dstack_x_up 1 while up.\n"
            "# TYPE dstack_x_up gauge\n"
            "dstack_x_up 1\n");
}

TEST(MetricsWriterTest, LabelValuesAndHelpAreEscaped) {
  Writer w;
  w.gauge("dstack_x_g", "a \\ and a\nnewline", 0,
          {{"directory", "http://h:1/\"q\"\\\n"}, {"id", "vm:1"}});
  EXPECT_EQ(w.text(),
            "# HELP dstack_x_g a \\\\ and a\\nnewline\n"
            "# TYPE dstack_x_g gauge\n"
            "dstack_x_g{directory=\"http://h:1/\\\"q\\\"\\\\\\n\",id=\"vm:1\"} 0\n");
}

TEST(MetricsWriterTest, NumbersAreExactAndWholeNumbersHaveNoExponent) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(1000000), "1000000");
  EXPECT_EQ(format_value(18446744073709.0), "18446744073709");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.0005), "0.0005");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(1e300), "1e+300");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(MetricsWriterTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Histogram h({0.1, 0.5, 1});
  for (double v : {0.05, 0.1, 0.3, 0.7, 2.0}) h.observe(v);
  Writer w;
  w.histogram("dstack_x_apply_seconds", "Apply time.", h, {{"service", "s"}});
  EXPECT_EQ(w.text(),
            "# HELP dstack_x_apply_seconds Apply time.\n"
            "# TYPE dstack_x_apply_seconds histogram\n"
            "dstack_x_apply_seconds_bucket{service=\"s\",le=\"0.1\"} 2\n"
            "dstack_x_apply_seconds_bucket{service=\"s\",le=\"0.5\"} 3\n"
            "dstack_x_apply_seconds_bucket{service=\"s\",le=\"1\"} 4\n"
            "dstack_x_apply_seconds_bucket{service=\"s\",le=\"+Inf\"} 5\n"
            "dstack_x_apply_seconds_sum{service=\"s\"} 3.15\n"
            "dstack_x_apply_seconds_count{service=\"s\"} 5\n");
}

TEST(MetricsWriterTest, AnEmptyHistogramStillWritesEveryBucket) {
  Histogram h(latency_bounds_seconds());
  Writer w;
  w.histogram("dstack_x_seconds", "t", h);
  const auto& text = w.text();
  EXPECT_NE(text.find("dstack_x_seconds_bucket{le=\"0.0005\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("dstack_x_seconds_bucket{le=\"+Inf\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("dstack_x_seconds_count 0\n"), std::string::npos);
}

#ifndef NDEBUG
TEST(MetricsWriterDeathTest, AFamilyInTwoBlocksIsACallerBug) {
  Writer w;
  w.gauge("dstack_x_a", "a", 1).gauge("dstack_x_b", "b", 1);
  EXPECT_DEATH(w.gauge("dstack_x_a", "a", 2), "two blocks");
}

TEST(MetricsWriterDeathTest, ACounterWithoutTotalIsACallerBug) {
  Writer w;
  EXPECT_DEATH(w.counter("dstack_x_checks", "c", 1), "_total");
}
#endif

}  // namespace
}  // namespace dstack::metrics
