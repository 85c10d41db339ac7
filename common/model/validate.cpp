// SPDX-License-Identifier: Apache-2.0
#include "common/model/validate.hpp"

#include <algorithm>
#include <set>
#include <variant>

#include "common/model/json.hpp"
#include "common/model/url.hpp"

namespace dstack::model {
namespace {

// Character loops instead of std::regex: these run on every request, and std::regex is slow and
// allocates. The rule strings below are the user-facing form of each loop.
constexpr std::string_view kNameRule = "must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$";
constexpr std::string_view kVersionRule = "must match ^[A-Za-z0-9._-]{1,32}$";
constexpr std::string_view kIdRule = "must match ^[A-Za-z0-9._:-]{1,128}$";
constexpr std::string_view kLeaseRule = "must match ^[A-Za-z0-9]{1,64}$";
constexpr std::string_view kTagRule = "must match ^[A-Za-z0-9._-]{1,64}$";
constexpr std::string_view kMetaKeyRule = "must match ^[A-Za-z0-9_-]{1,128}$";
constexpr std::string_view kMetaValueRule = "must be at most 512 printable ASCII characters";

constexpr std::size_t kPrintableMax = 80;

bool lower_or_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool alnum(char c) {
  return lower_or_digit(c) || (c >= 'A' && c <= 'Z');
}

// Every character alnum or one of `extra`, length 1..max.
bool alnum_plus(std::string_view value, std::size_t max, std::string_view extra) {
  if (value.empty() || value.size() > max) return false;
  for (char c : value) {
    if (!alnum(c) && extra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool valid_name(std::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  if (!lower_or_digit(v.front()) || !lower_or_digit(v.back())) return false;
  for (char c : v) {
    if (!lower_or_digit(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

Problem fail_unless(bool ok, std::string_view field, std::string_view value,
                    std::string_view rule) {
  if (ok) return std::nullopt;
  return invalid(field, value, rule);
}

void add(std::vector<std::string>& problems, Problem p) {
  if (p) problems.push_back(std::move(*p));
}

}  // namespace

std::string printable(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const std::size_t n = std::min(value.size(), kPrintableMax);
  out.reserve(n + 8);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c <= 0x7e) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (value.size() > kPrintableMax) out += "...";
  return out;
}

std::string invalid(std::string_view field, std::string_view value, std::string_view rule) {
  std::string out(field);
  out += " \"";
  out += printable(value);
  out += "\" is invalid: ";
  out += rule;
  return out;
}

Problem check_range(long long value, long long lo, long long hi, std::string_view field) {
  if (value >= lo && value <= hi) return std::nullopt;
  return std::string(field) + " " + std::to_string(value) + " is out of range " +
         std::to_string(lo) + ".." + std::to_string(hi);
}

Problem check_count(std::size_t given, std::size_t max, std::string_view field) {
  if (given <= max) return std::nullopt;
  return std::string(field) + ": " + std::to_string(given) + " given, at most " +
         std::to_string(max) + " allowed";
}

std::string meta_field(std::string_view key) {
  return "meta[\"" + printable(key) + "\"]";
}

Problem check_service_name(std::string_view value, std::string_view field) {
  return fail_unless(valid_name(value), field, value, kNameRule);
}

Problem check_consumer_name(std::string_view value, std::string_view field) {
  return fail_unless(valid_name(value), field, value, kNameRule);
}

Problem check_token_name(std::string_view value, std::string_view field) {
  return fail_unless(valid_name(value), field, value, kNameRule);
}

Problem check_version(std::string_view value, std::string_view field) {
  return fail_unless(alnum_plus(value, 32, "._-"), field, value, kVersionRule);
}

Problem check_instance_id(std::string_view value, std::string_view field) {
  return fail_unless(alnum_plus(value, 128, "._:-"), field, value, kIdRule);
}

Problem check_lease_id(std::string_view value, std::string_view field) {
  return fail_unless(alnum_plus(value, 64, ""), field, value, kLeaseRule);
}

Problem check_tag(std::string_view value, std::string_view field) {
  return fail_unless(alnum_plus(value, 64, "._-"), field, value, kTagRule);
}

Problem check_meta_key(std::string_view value, std::string_view field) {
  return fail_unless(alnum_plus(value, 128, "_-"), field, value, kMetaKeyRule);
}

Problem check_meta_value(std::string_view value, std::string_view field) {
  bool ok = value.size() <= 512;
  for (std::size_t i = 0; ok && i < value.size(); ++i) {
    ok = value[i] >= 0x20 && value[i] <= 0x7e;
  }
  return fail_unless(ok, field, value, kMetaValueRule);
}

Problem check_weight(int value, std::string_view field) {
  return check_range(value, 0, 256, field);
}

Problem check_protocol(const std::optional<Protocol>& protocol, std::string_view url,
                       std::string_view field) {
  if (!protocol) return std::nullopt;
  const bool tcp = *protocol == Protocol::tcp;
  if (tcp == url.starts_with("tcp://")) return std::nullopt;
  return invalid(field, to_string(*protocol),
                 tcp ? "protocol tcp needs a tcp:// url"
                     : "a tcp:// url speaks protocol tcp (http, http2 and grpc need http:// or "
                       "https://)");
}

std::variant<Protocol, std::string> parse_protocol(std::string_view text, std::string_view url,
                                                   std::string_view field) {
  const auto protocol = protocol_from_string(text);
  if (!protocol) return invalid(field, text, "must be one of http, http2, grpc, tcp");
  if (auto problem = check_protocol(protocol, url, field)) return *problem;
  return *protocol;
}

std::vector<std::string> validate_instance(const Instance& instance) {
  std::vector<std::string> problems;
  add(problems, check_service_name(instance.service));
  add(problems, check_instance_id(instance.id));
  add(problems, check_lease_id(instance.lease));
  if (auto url = parse_instance_url(instance.url); auto* message = std::get_if<std::string>(&url)) {
    problems.push_back(std::move(*message));
  }
  add(problems, check_version(instance.version));
  add(problems, check_weight(instance.weight));
  // Past the limit, checking every element would only turn a huge input into a huge answer.
  if (auto p = check_count(instance.tags.size(), kMaxTags, "tags")) {
    problems.push_back(std::move(*p));
  } else {
    for (std::size_t i = 0; i < instance.tags.size(); ++i) {
      add(problems, check_tag(instance.tags[i], "tags[" + std::to_string(i) + "]"));
    }
  }
  if (auto p = check_count(instance.meta.size(), kMaxMeta, "meta")) {
    problems.push_back(std::move(*p));
  } else {
    for (const auto& [key, value] : instance.meta) {
      add(problems, check_meta_key(key));
      add(problems, check_meta_value(value, meta_field(key)));
    }
  }
  add(problems, check_protocol(instance.protocol, instance.url));
  return problems;
}

void check_targets(const std::vector<RouteTarget>& targets, std::vector<std::string>& problems) {
  if (targets.empty()) {
    problems.push_back("targets: at least one target is needed");
    return;
  }
  if (auto p = check_count(targets.size(), kMaxTargets, "targets")) {
    problems.push_back(std::move(*p));
    return;
  }
  std::set<std::string_view> seen, reported;
  bool weights_in_range = true;
  long long sum = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    const std::string at = "targets[" + std::to_string(i) + "]";
    if (auto p = check_version(t.version, at + ".version")) {
      problems.push_back(std::move(*p));
    } else if (!seen.insert(t.version).second && reported.insert(t.version).second) {
      problems.push_back("targets: version \"" + printable(t.version) + "\" is listed twice");
    }
    if (auto p = check_range(t.weight, 0, 100, at + ".weight")) {
      problems.push_back(std::move(*p));
      weights_in_range = false;
    }
    sum += t.weight;
  }
  // With a weight already out of range the sum says nothing new (and could even hide it).
  if (weights_in_range && sum > 100) {
    problems.push_back("targets: weights add up to " + std::to_string(sum) + ", more than 100");
  }
}

std::vector<std::string> validate_route(const Route& route) {
  std::vector<std::string> problems;
  add(problems, check_service_name(route.service));
  if (!route.consumer.empty()) add(problems, check_consumer_name(route.consumer));
  check_targets(route.targets, problems);
  return problems;
}

}  // namespace dstack::model
