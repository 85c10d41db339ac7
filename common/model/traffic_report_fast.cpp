// SPDX-License-Identifier: Apache-2.0
// A traffic report read straight from its text (traffic.hpp): the directory takes 200 of them a
// second from 1,000 sherlocks, and building a JSON document for each cost it most of its time
// (docs/benchmarks.md#in-the-directory). This reader accepts only a report that
// traffic_report_from_request would accept, with the same result; anything else (an unknown
// key, a duplicate, a float, a bad name) it leaves to that reader, which names the problem.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "common/model/traffic.hpp"
#include "common/model/validate.hpp"

namespace dstack::model {

namespace {

constexpr std::uint64_t kMaxCount = 1'000'000'000'000'000ull;  // as traffic.cpp

class Reader final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit Reader(TrafficReport& out) : out_(out) {}

  // Whether the report was whole and every rule held.
  bool finished() const {
    return where_ == Where::done && seen_interval_ && seen_buckets_ && seen_services_;
  }

  bool null() override { return false; }
  bool boolean(bool) override { return false; }
  bool number_float(number_float_t, const string_t&) override { return false; }
  bool string(string_t&) override { return false; }
  bool binary(binary_t&) override { return false; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
  bool number_integer(number_integer_t v) override {
    return v >= 0 && number_unsigned(static_cast<number_unsigned_t>(v));
  }

  bool number_unsigned(number_unsigned_t v) override {
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
        if (v > kMaxCount) return false;
        auto& n = counts_.requests[code_];
        if (code_seen_ & (1u << code_)) return false;  // a duplicate key
        code_seen_ |= 1u << code_;
        n = v;
        where_ = Where::requests_key;
        return true;
      }
      case Where::counts:
        if (v > kMaxCount || count_at_ >= kDurationBuckets) return false;
        counts_.duration[count_at_++] = v;
        return true;
      case Where::sum:
        if (v > kMaxCount || seen_sum_) return false;
        counts_.duration_sum_ms = v;
        seen_sum_ = true;
        where_ = Where::duration;
        return true;
      default:
        return false;
    }
  }

  bool start_object(std::size_t) override {
    switch (where_) {
      case Where::start:
        where_ = Where::top;
        return true;
      case Where::services_value:
        where_ = Where::services;
        return true;
      case Where::versions_value:
        where_ = Where::versions;
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

  bool key(string_t& k) override {
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
      case Where::services: {
        if (check_service_name(k, "services") || out_.services.size() >= kMaxReportServices)
          return false;
        auto [it, fresh] = out_.services.try_emplace(k);
        if (!fresh) return false;
        versions_ = &it->second;
        where_ = Where::versions_value;
        return true;
      }
      case Where::versions:
        if ((!k.empty() && check_version(k, "version")) ||
            versions_->size() >= kMaxReportVersions || versions_->contains(k))
          return false;
        version_ = k;
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
          where_ = Where::sum;
        } else {
          return false;
        }
        return true;
      default:
        return false;
    }
  }

  bool end_object() override {
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
        versions_->emplace(std::move(version_), counts_);
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

  bool start_array(std::size_t) override {
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

  bool end_array() override {
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

  TrafficReport& out_;
  Where where_ = Where::start;
  bool seen_interval_ = false, seen_buckets_ = false, seen_services_ = false;
  bool seen_requests_ = false, seen_duration_ = false, seen_counts_ = false, seen_sum_ = false;
  std::size_t bucket_ = 0, count_at_ = 0;
  unsigned code_ = 0, code_seen_ = 0;
  std::map<std::string, TrafficCounts>* versions_ = nullptr;
  std::string version_;
  TrafficCounts counts_;
};

}  // namespace

std::optional<TrafficReport> traffic_report_from_text(std::string_view body) {
  TrafficReport out;
  Reader reader(out);
  const bool parsed = nlohmann::json::sax_parse(body, &reader, nlohmann::json::input_format_t::json,
                                                /*strict=*/true);
  if (!parsed || !reader.finished()) return std::nullopt;
  return out;
}

}  // namespace dstack::model
