// SPDX-License-Identifier: Apache-2.0
// A traffic report read straight from its text into rows (traffic.hpp): the directory takes 200
// of them a second from 1,000 sherlocks, and a JSON document per report, even nlohmann's own
// event reader, cost it most of its time (docs/benchmarks.md#in-the-directory). RapidJSON's
// event reader (validating UTF-8) is about three times as quick, and rows need no map per service.
// This reader accepts only a report traffic_report_from_request would accept, with the same
// result; anything else (an unknown key, a duplicate, a float, a bad name, a byte order mark) it
// leaves to that reader, which names the problem.
#include <rapidjson/reader.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <tuple>

#include "common/model/traffic.hpp"
#include "common/model/validate.hpp"

namespace dstack::model {

namespace {

constexpr std::uint64_t kMaxCount = 1'000'000'000'000'000ull;  // as traffic.cpp

// RapidJSON's stream for reading in place (its Stream concept), reading and writing nothing past
// the end: RapidJSON 1.1's own takes (and copies) the bytes of a UTF-8 sequence cut short by the
// end without looking, past the buffer. Past the end it reads NUL, which ends the text. Strings
// are decoded where they are, so the reader's own stack is never used, whose first push offsets
// a null pointer in RapidJSON 1.1 (undefined behaviour).
class InPlace {
 public:
  using Ch = char;
  InPlace(char* begin, char* end) : src_(begin), end_(end), head_(begin) {}
  Ch Peek() const { return src_ < end_ ? *src_ : '\0'; }
  Ch Take() { return src_ < end_ ? *src_++ : '\0'; }
  std::size_t Tell() const { return static_cast<std::size_t>(src_ - head_); }
  Ch* PutBegin() { return dst_ = src_; }
  // Past the end only where a string is cut short, which fails: the bytes are dropped.
  void Put(Ch c) {
    if (dst_ < end_) *dst_++ = c;
  }
  void Flush() {}
  std::size_t PutEnd(Ch* begin) { return static_cast<std::size_t>(dst_ - begin); }

 private:
  char* src_;
  char* end_;
  char* head_;
  char* dst_ = nullptr;
};

class Reader final : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Reader> {
 public:
  explicit Reader(TrafficRows& out) : out_(out) {}

  // Whether the report was whole and every rule held.
  bool finished() const {
    return where_ == Where::done && seen_interval_ && seen_buckets_ && seen_services_;
  }
  // Whether a service was given twice (the document reader keeps the last: its to read).
  bool service_twice() {
    std::sort(services_.begin(), services_.end());
    return std::adjacent_find(services_.begin(), services_.end()) != services_.end();
  }

  // Anything not overridden (null, booleans, floats, strings) is not in a report.
  bool Default() { return false; }
  bool Int(int v) { return v >= 0 && Uint64(static_cast<std::uint64_t>(v)); }
  bool Int64(std::int64_t v) { return v >= 0 && Uint64(static_cast<std::uint64_t>(v)); }
  bool Uint(unsigned v) { return Uint64(v); }

  bool Uint64(std::uint64_t v) {
    switch (where_) {
      case Where::interval:
        if (v < 1 || v > static_cast<std::uint64_t>(kMaxReportIntervalMs)) return false;
        out_.interval_ms = static_cast<std::int64_t>(v);
        where_ = Where::top;
        return true;
      case Where::buckets:
        if (bucket_ >= kDurationBoundsMs.size() ||
            v != static_cast<std::uint64_t>(kDurationBoundsMs[bucket_]))
          return false;
        ++bucket_;
        return true;
      case Where::requests: {
        if (v > kMaxCount || (code_seen_ & (1u << code_))) return false;  // or a duplicate key
        code_seen_ |= 1u << code_;
        counts_.requests[code_] = v;
        where_ = Where::requests_key;
        return true;
      }
      case Where::counts:
        if (v > kMaxCount || count_at_ >= kDurationBuckets) return false;
        counts_.duration[count_at_++] = v;
        return true;
      case Where::sum:
        if (v > kMaxCount) return false;
        counts_.duration_sum_ms = v;
        where_ = Where::duration;
        return true;
      default:
        return false;
    }
  }

  bool StartObject() {
    switch (where_) {
      case Where::start:
        where_ = Where::top;
        return true;
      case Where::services_value:
        where_ = Where::services;
        return true;
      case Where::versions_value:
        where_ = Where::versions;
        versions_.clear();
        return true;
      case Where::version_value:
        where_ = Where::version;
        counts_ = {};
        seen_requests_ = seen_duration_ = false;
        return true;
      case Where::requests_value:
        where_ = Where::requests_key;
        code_seen_ = 0;
        return true;
      case Where::duration_value:
        where_ = Where::duration;
        seen_counts_ = seen_sum_ = false;
        return true;
      default:
        return false;
    }
  }

  bool Key(const char* text, rapidjson::SizeType length, bool) {
    const std::string_view k(text, length);
    switch (where_) {
      case Where::top:
        if (k == "interval_ms" && !seen_interval_) {
          seen_interval_ = true;
          where_ = Where::interval;
        } else if (k == "buckets_ms" && !seen_buckets_) {
          seen_buckets_ = true;
          where_ = Where::buckets_value;
        } else if (k == "services" && !seen_services_) {
          seen_services_ = true;
          where_ = Where::services_value;
        } else {
          return false;
        }
        return true;
      case Where::services:
        if (check_service_name(k, "services") || services_.size() >= kMaxReportServices)
          return false;
        services_.emplace_back(k);
        where_ = Where::versions_value;
        return true;
      case Where::versions:
        if ((!k.empty() && check_version(k, "version")) || versions_.size() >= kMaxReportVersions ||
            std::find(versions_.begin(), versions_.end(), k) != versions_.end())
          return false;
        versions_.emplace_back(k);
        where_ = Where::version_value;
        return true;
      case Where::version:
        if (k == "requests" && !seen_requests_) {
          seen_requests_ = true;
          where_ = Where::requests_value;
        } else if (k == "duration_ms" && !seen_duration_) {
          seen_duration_ = true;
          where_ = Where::duration_value;
        } else {
          return false;
        }
        return true;
      case Where::requests_key: {
        const auto it = std::find(kCodeClassNames.begin(), kCodeClassNames.end(), k);
        if (it == kCodeClassNames.end()) return false;
        code_ = static_cast<unsigned>(it - kCodeClassNames.begin());
        where_ = Where::requests;
        return true;
      }
      case Where::duration:
        if (k == "counts" && !seen_counts_) {
          seen_counts_ = true;
          where_ = Where::counts_value;
        } else if (k == "sum" && !seen_sum_) {
          seen_sum_ = true;
          where_ = Where::sum;
        } else {
          return false;
        }
        return true;
      default:
        return false;
    }
  }

  bool EndObject(rapidjson::SizeType) {
    switch (where_) {
      case Where::top:
        where_ = Where::done;
        return true;
      case Where::services:
        where_ = Where::top;
        return true;
      case Where::versions:
        where_ = Where::services;
        return true;
      case Where::version: {
        if (!seen_requests_ || !seen_duration_) return false;
        const auto observed =
            std::accumulate(counts_.duration.begin(), counts_.duration.end(), std::uint64_t{0});
        if (observed != counts_.total()) return false;
        out_.rows.push_back({services_.back(), versions_.back(), counts_});
        where_ = Where::versions;
        return true;
      }
      case Where::requests_key:
        where_ = Where::version;
        return true;
      case Where::duration:
        if (!seen_counts_ || !seen_sum_) return false;
        where_ = Where::version;
        return true;
      default:
        return false;
    }
  }

  bool StartArray() {
    if (where_ == Where::buckets_value) {
      where_ = Where::buckets;
      bucket_ = 0;
      return true;
    }
    if (where_ == Where::counts_value) {
      where_ = Where::counts;
      count_at_ = 0;
      return true;
    }
    return false;
  }

  bool EndArray(rapidjson::SizeType) {
    if (where_ == Where::buckets) {
      if (bucket_ != kDurationBoundsMs.size()) return false;
      where_ = Where::top;
      return true;
    }
    if (where_ == Where::counts) {
      where_ = Where::duration;
      return true;
    }
    return false;
  }

 private:
  // Where the next token is: a value of the named member (`_value`), or inside the named object
  // or array.
  enum class Where {
    start,
    top,
    interval,
    buckets_value,
    buckets,
    services_value,
    services,
    versions_value,
    versions,
    version_value,
    version,
    requests_value,
    requests_key,
    requests,
    duration_value,
    duration,
    counts_value,
    counts,
    sum,
    done
  };

  TrafficRows& out_;
  Where where_ = Where::start;
  bool seen_interval_ = false, seen_buckets_ = false, seen_services_ = false;
  bool seen_requests_ = false, seen_duration_ = false, seen_counts_ = false, seen_sum_ = false;
  std::size_t bucket_ = 0, count_at_ = 0;
  unsigned code_ = 0, code_seen_ = 0;
  std::vector<std::string> services_;  // as they came
  std::vector<std::string> versions_;  // of the service being read
  TrafficCounts counts_;
};

bool by_name(const TrafficRow& a, const TrafficRow& b) {
  return std::tie(a.service, a.version) < std::tie(b.service, b.version);
}

}  // namespace

std::optional<TrafficRows> traffic_rows_from_text(std::string_view body) {
  // Read in place, from a copy. A NUL byte ends the text for RapidJSON: a body with one inside
  // is the document reader's to refuse.
  if (std::memchr(body.data(), '\0', body.size())) return std::nullopt;
  std::string copy(body);
  TrafficRows out;
  // A row takes at least 50 bytes of text: room for most reports without growing.
  out.rows.reserve(body.size() / 64);
  Reader reader(out);
  InPlace text(copy.data(), copy.data() + copy.size());
  rapidjson::Reader parser;
  if (parser
          .Parse<rapidjson::kParseInsituFlag | rapidjson::kParseValidateEncodingFlag>(text, reader)
          .IsError() ||
      !reader.finished() || reader.service_twice())
    return std::nullopt;
  if (!std::is_sorted(out.rows.begin(), out.rows.end(), by_name))
    std::sort(out.rows.begin(), out.rows.end(), by_name);
  return out;
}

TrafficRows rows_of(const TrafficReport& report) {
  return {report.interval_ms, rows_of(report.services)};
}

std::vector<TrafficRow> rows_of(const TrafficByVersion& services) {
  std::vector<TrafficRow> rows;
  for (const auto& [service, versions] : services)
    for (const auto& [version, counts] : versions) rows.push_back({service, version, counts});
  return rows;
}

}  // namespace dstack::model
