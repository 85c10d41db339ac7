// SPDX-License-Identifier: Apache-2.0
#include "common/model/json_fields.hpp"

#include <climits>
#include <limits>
#include <variant>

#include "common/model/url.hpp"
#include "common/model/validate.hpp"

namespace dstack::model::detail {

const char* type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a floating-point number";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::binary:
      return "binary data";
    case json::value_t::discarded:
      break;
  }
  return "invalid JSON";
}

Fields::Fields(const json& obj, Problems& problems, std::string prefix, std::string path)
    : obj_(obj), problems_(problems), prefix_(std::move(prefix)), path_(std::move(path)) {}

void Fields::wrong_type(std::string_view name, std::string_view kind, const json& got) {
  add(std::string(name) + ": expected " + std::string(kind) + ", got " + type_name(got));
}

const json* Fields::member(std::string_view key, bool required) {
  const auto it = obj_.find(key);
  if (it == obj_.end()) {
    if (required) add("missing field \"" + name(key) + "\"");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> Fields::string(std::string_view key, bool required) {
  const json* j = member(key, required);
  if (!j) return std::nullopt;
  if (!j->is_string()) {
    wrong_type(name(key), "a string", *j);
    return std::nullopt;
  }
  return j->get_ref<const std::string&>();
}

std::optional<int> Fields::integer(std::string_view key, bool required, long long lo,
                                   long long hi) {
  const json* j = member(key, required);
  if (!j) return std::nullopt;
  if (!j->is_number_integer()) {
    wrong_type(name(key), "an integer", *j);
    return std::nullopt;
  }
  // Checked here, before any narrowing, so a huge value is refused instead of wrapped.
  const bool fits = j->is_number_unsigned()
                        ? j->get<std::uint64_t>() <= INT_MAX
                        : j->get<std::int64_t>() >= INT_MIN && j->get<std::int64_t>() <= INT_MAX;
  if (!fits) {
    add(name(key) + " " + j->dump() + " is out of range " + std::to_string(lo) + ".." +
        std::to_string(hi));
    return std::nullopt;
  }
  return static_cast<int>(j->get<std::int64_t>());
}

std::optional<double> Fields::number(std::string_view key, bool required) {
  const json* j = member(key, required);
  if (!j) return std::nullopt;
  if (!j->is_number()) {
    wrong_type(name(key), "a number", *j);
    return std::nullopt;
  }
  return j->get<double>();
}

std::optional<Duration> Fields::duration(std::string_view key, bool required) {
  auto text = string(key, required);
  if (!text) return std::nullopt;
  if (auto d = parse_duration(*text)) return *d;
  add(invalid(name(key), *text, "must be a duration like 250ms, 5s or 1m"));
  return std::nullopt;
}

std::optional<std::uint64_t> Fields::revision(std::string_view key, bool required) {
  const json* j = member(key, required);
  if (!j) return std::nullopt;
  if (!j->is_number_integer()) {
    wrong_type(name(key), "an integer", *j);
    return std::nullopt;
  }
  if (!j->is_number_unsigned() && j->get<std::int64_t>() < 0) {
    add(name(key) + " " + j->dump() + " is out of range 0.." +
        std::to_string(std::numeric_limits<std::uint64_t>::max()));
    return std::nullopt;
  }
  return j->get<std::uint64_t>();
}

std::optional<bool> Fields::boolean(std::string_view key, bool required) {
  const json* j = member(key, required);
  if (!j) return std::nullopt;
  if (!j->is_boolean()) {
    wrong_type(name(key), "a boolean", *j);
    return std::nullopt;
  }
  return j->get<bool>();
}

void Fields::refuse_unknown(std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : obj_.items()) {
    bool found = false;
    for (auto k : known) found = found || k == key;
    if (!found) add("unknown field \"" + printable(name(key)) + "\"");
  }
}

namespace {

void read_tags(Fields& f, Instance& out) {
  const json* tags = f.member("tags", false);
  if (!tags) return;
  if (!tags->is_array()) return f.wrong_type(f.name("tags"), "an array", *tags);
  // Past the limit, per-element messages would only turn a huge input into a huge answer.
  if (auto p = check_count(tags->size(), kMaxTags, f.name("tags"))) return f.add(*p);
  for (std::size_t i = 0; i < tags->size(); ++i) {
    const json& tag = (*tags)[i];
    const std::string at = f.name("tags[" + std::to_string(i) + "]");
    if (!tag.is_string()) {
      f.wrong_type(at, "a string", tag);
      continue;
    }
    const auto& value = tag.get_ref<const std::string&>();
    f.add(check_tag(value, at));
    out.tags.push_back(value);
  }
}

void read_meta(Fields& f, Instance& out) {
  const json* meta = f.member("meta", false);
  if (!meta) return;
  if (!meta->is_object()) return f.wrong_type(f.name("meta"), "an object", *meta);
  if (auto p = check_count(meta->size(), kMaxMeta, f.name("meta"))) return f.add(*p);
  for (const auto& [key, value] : meta->items()) {
    f.add(check_meta_key(key, f.name("meta key")));
    const std::string at = f.name(meta_field(key));
    if (!value.is_string()) {
      f.wrong_type(at, "a string", value);
      continue;
    }
    const auto& text = value.get_ref<const std::string&>();
    f.add(check_meta_value(text, at));
    out.meta.emplace(key, text);
  }
}

}  // namespace

void read_instance_body(Fields& f, Instance& out, bool defaults) {
  if (auto lease = f.string("lease", true)) {
    f.add(check_lease_id(*lease, f.name("lease")));
    out.lease = std::move(*lease);
  }
  if (auto url = f.string("url", true)) {
    if (auto parsed = parse_instance_url(*url, f.name("url"));
        auto* message = std::get_if<std::string>(&parsed)) {
      f.add(*message);
    }
    out.url = std::move(*url);
  }
  if (auto version = f.string("version", !defaults)) {
    f.add(check_version(*version, f.name("version")));
    out.version = std::move(*version);
  }
  if (auto weight = f.integer("weight", !defaults, 0, 256)) {
    f.add(check_weight(*weight, f.name("weight")));
    out.weight = *weight;
  }
  if (auto health = f.string("health", !defaults)) {
    if (auto h = health_from_string(*health)) {
      out.health = *h;
    } else {
      f.add(invalid(f.name("health"), *health,
                    "must be one of passing, warning, critical, maintenance"));
    }
  }
  read_tags(f, out);
  read_meta(f, out);
  if (auto protocol = f.string("protocol", false)) {
    auto parsed = parse_protocol(*protocol, out.url, f.name("protocol"));
    if (auto* p = std::get_if<Protocol>(&parsed))
      out.protocol = *p;
    else
      f.add(std::get<std::string>(parsed));
  }
}

void read_targets(Fields& f, std::vector<RouteTarget>& out, bool strict_keys) {
  const json* targets = f.member("targets", true);
  if (!targets) return;
  if (!targets->is_array()) return f.wrong_type(f.name("targets"), "an array", *targets);
  if (auto p = check_count(targets->size(), kMaxTargets, f.name("targets"))) return f.add(*p);
  const std::size_t before = f.problems().size();
  for (std::size_t i = 0; i < targets->size(); ++i) {
    const json& t = (*targets)[i];
    const std::string at = f.name("targets[" + std::to_string(i) + "]");
    if (!t.is_object()) {
      f.wrong_type(at, "an object", t);
      continue;
    }
    Fields tf(t, f.problems(), f.prefix(), at + ".");
    if (strict_keys) tf.refuse_unknown({"version", "weight"});
    auto version = tf.string("version", true);
    auto weight = tf.integer("weight", true, 0, 100);
    if (version && weight) out.push_back({std::move(*version), *weight});
  }
  // Value checks only make sense on a complete list: a dropped target would shift every index.
  if (f.problems().size() != before) return;
  Problems found;
  check_targets(out, found);
  for (auto& p : found) f.add(std::move(p));
}

}  // namespace dstack::model::detail
