// SPDX-License-Identifier: Apache-2.0
#include "sherlock/request_log.hpp"

#include <array>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/model/validate.hpp"

namespace dstack::sherlock {

// The request id is set earlier in the frontend (haproxy_config.cpp) and kept in txn.rid; %rc
// carries a '+' when the request was redispatched.
const char* const kLogFormat =
    "%Ts\\t%ms\\t%b\\t%s\\t%ST\\t%TR\\t%Tw\\t%Tc\\t%Tr\\t%Ta\\t%B\\t%HM\\t%[var(txn.rid)]\\t%rc\\t%"
    "tsc";
// Only what counting needs: every field HAProxy formats costs it CPU on every request.
const char* const kCountFormat = "%b\\t%s\\t%ST\\t%TR\\t%Tw\\t%Tc\\t%Tr\\t%Ta\\t%tsc";

namespace {

constexpr std::size_t kFields = 15;
constexpr std::size_t kCountFields = 9;
constexpr std::string_view kBackendPrefix = "be_";

// At most kFields tab-separated fields into `out`: how many, or 0 for more.
std::size_t split_tabs(std::string_view line, std::array<std::string_view, kFields>& out) {
  for (std::size_t i = 0;; ++i) {
    const auto tab = line.find('\t');
    out[i] = line.substr(0, tab);
    if (tab == std::string_view::npos) return i + 1;
    if (i + 1 == kFields) return 0;
    line.remove_prefix(tab + 1);
  }
}

template <class T>
bool number(std::string_view text, T& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// A timer: a count of ms, or -1 when HAProxy did not get that far.
bool timer(std::string_view text, std::int64_t& out) {
  return number(text, out) && out >= -1;
}

// Printable ASCII without spaces: what every text field here is made of.
bool word(std::string_view text, std::size_t max) {
  if (text.empty() || text.size() > max) return false;
  for (char c : text)
    if (c <= ' ' || c > '~') return false;
  return true;
}

nlohmann::ordered_json nullable(std::string_view s) {
  return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
}

nlohmann::ordered_json timing(std::int64_t ms) {
  return ms < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(ms);
}

// "2026-12-03T16:30:00.123Z"
std::string iso_time(std::uint64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03uZ", static_cast<unsigned>(ms % 1000));
  return std::string(text, n) + millis;
}

}  // namespace

std::optional<RequestRecord> parse_request_log(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::array<std::string_view, kFields> f;
  const std::size_t fields = split_tabs(line, f);
  RequestRecord r;
  if (fields == kCountFields) {
    if (!word(f[0], 200) || !word(f[1], 200)) return std::nullopt;
    r.backend = f[0];
    r.server = f[1];
    if (!number(f[2], r.status) || r.status < -1 || r.status > 999) return std::nullopt;
    if (!timer(f[3], r.request_ms) || !timer(f[4], r.queue_ms) || !timer(f[5], r.connect_ms) ||
        !timer(f[6], r.response_ms) || !timer(f[7], r.total_ms) || !word(f[8], 8))
      return std::nullopt;
    r.termination = f[8];
    return r;
  }
  if (fields != kFields) return std::nullopt;
  std::uint64_t seconds = 0;
  unsigned millis = 0;
  if (!number(f[0], seconds) || seconds > 32503680000ull || f[1].size() != 3 ||
      !number(f[1], millis))
    return std::nullopt;
  r.accepted_ms = seconds * 1000 + millis;
  if (!word(f[2], 200) || !word(f[3], 200)) return std::nullopt;
  r.backend = f[2];
  r.server = f[3];
  // -1: HAProxy sent no answer (the client aborted, maybe while queued).
  if (!number(f[4], r.status) || r.status < -1 || r.status > 999) return std::nullopt;
  if (!timer(f[5], r.request_ms) || !timer(f[6], r.queue_ms) || !timer(f[7], r.connect_ms) ||
      !timer(f[8], r.response_ms) || !timer(f[9], r.total_ms) || !number(f[10], r.bytes))
    return std::nullopt;
  if (!word(f[11], 64) || !word(f[12], 200)) return std::nullopt;
  r.method = f[11];
  r.request_id = f[12] == "-" ? std::string_view() : f[12];
  std::string_view retries = f[13];
  if (retries.starts_with('+')) retries.remove_prefix(1);  // redispatched
  if (!number(retries, r.retries) || r.retries < 0) return std::nullopt;
  if (!word(f[14], 8)) return std::nullopt;
  r.termination = f[14];
  return r;
}

std::string_view service_of(const RequestRecord& record) {
  if (!record.backend.starts_with(kBackendPrefix)) return {};
  const std::string_view service = record.backend.substr(kBackendPrefix.size());
  return model::check_service_name(service) ? std::string_view() : service;
}

bool has_instance(const RequestRecord& record) {
  return !service_of(record).empty() && record.server != "<NOSRV>";
}

std::string access_log_line(const RequestRecord& r, std::string_view consumer,
                            std::string_view version) {
  const std::string_view service = service_of(r);
  const bool has_server = has_instance(r);
  nlohmann::ordered_json j{
      {"time", iso_time(r.accepted_ms)},
      {"consumer", nullable(consumer)},
      {"service", nullable(service)},
      {"version", has_server ? nullable(version) : nlohmann::ordered_json(nullptr)},
      {"instance", has_server ? nlohmann::ordered_json(r.server) : nlohmann::ordered_json(nullptr)},
      {"status", r.status < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.status)},
      {"method", r.method},
      {"request_id", nullable(r.request_id)},
      {"timings",
       {{"request_ms", timing(r.request_ms)},
        {"queue_ms", timing(r.queue_ms)},
        {"connect_ms", timing(r.connect_ms)},
        {"response_ms", timing(r.response_ms)},
        {"total_ms", timing(r.total_ms)}}},
      {"bytes", r.bytes},
      {"retries", r.retries},
      {"termination", r.termination}};
  // Every text came through word() or a name check; replace keeps a bad byte from throwing.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace dstack::sherlock
