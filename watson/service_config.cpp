// SPDX-License-Identifier: Apache-2.0
#include "watson/service_config.hpp"

#include <algorithm>
#include <cctype>
#include <variant>

#include "common/config/reader.hpp"
#include "common/model/url.hpp"
#include "common/model/validate.hpp"
#include "watson/service_reader.hpp"

namespace dstack::watson {
namespace {

using namespace std::chrono_literals;
using detail::bare;

// Adapts a model check (value, field) to the config reader's check (value).
template <class F>
config::Check rule(F check) {
  return [check](std::string_view v) { return bare(check(v, "")); };
}

std::optional<std::string> check_url(std::string_view text) {
  auto parsed = model::parse_instance_url(text, "");
  if (auto* message = std::get_if<std::string>(&parsed)) return bare(*message);
  return std::nullopt;
}

// "<host>:<port>" of a valid instance URL; IPv6 hosts without brackets (ids may not hold them).
std::string default_id(const std::string& url) {
  auto parsed = model::parse_instance_url(url, "");
  const auto* u = std::get_if<model::InstanceUrl>(&parsed);
  return u ? u->host + ":" + std::to_string(u->port) : "";
}

void read_tags(config::MapReader& r, ServiceDefinition& def) {
  def.tags = r.string_list("tags", {}, rule(model::check_tag));
  if (def.tags.size() > model::kMaxTags) {
    r.error("tags", std::to_string(def.tags.size()) + " given, at most " +
                        std::to_string(model::kMaxTags) + " allowed");
  }
}

void read_meta(config::MapReader& r, ServiceDefinition& def) {
  if (!r.has("meta")) return;
  auto meta = r.map("meta");
  const auto keys = meta.keys();
  if (keys.size() > model::kMaxMeta) {
    meta.error("", std::to_string(keys.size()) + " given, at most " +
                       std::to_string(model::kMaxMeta) + " allowed");
  }
  for (const auto& key : keys) {
    if (auto why = model::check_meta_key(key, "key")) meta.error(key, *why);
    def.meta[key] = meta.string(key, "", rule(model::check_meta_value));
  }
}

// `protocol` of a service file or --protocol (model::parse_protocol). Problems start with the
// value, for the caller to prefix.
std::optional<std::string> read_protocol(std::string_view text, const std::string& url,
                                         std::optional<model::Protocol>& out) {
  auto parsed = model::parse_protocol(text, url, "");
  if (auto* why = std::get_if<std::string>(&parsed)) return bare(*why);
  out = std::get<model::Protocol>(parsed);
  return std::nullopt;
}

// Whole seconds ("3", as the seed's command line had it) or a duration ("500ms").
std::optional<Duration> parse_interval(const std::string& text) {
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isdigit(c) != 0;
  });
  return parse_duration(digits ? text + "s" : text);
}

// The last path element of `//host/.../name`, or the argument itself.
std::string service_name(std::string arg) {
  if (!arg.starts_with("//")) return arg;
  while (arg.size() > 2 && arg.back() == '/') arg.pop_back();
  const auto slash = arg.rfind('/');
  return slash < 2 ? "" : arg.substr(slash + 1);
}

}  // namespace

namespace detail {
namespace {

// Everything after the YAML is parsed, shared by read_service_file and parse_service_text.
// `before`: how many problems `errors` held before this file.
ServiceFile read_service_document(const config::Document& doc, std::size_t before,
                                  config::Errors& errors) {
  ServiceFile out;
  const YAML::Node& root = doc.root;
  if (root["service"]) out.service_at = root["service"].Mark();

  config::MapReader r(doc, errors);
  ServiceDefinition def;
  def.file = doc.file;
  def.service = r.required_string("service", rule(model::check_service_name));
  def.url = r.required_string("url", check_url);
  def.id = r.string("id", "", rule(model::check_instance_id));
  if (!r.has("id")) {
    def.id = default_id(def.url);  // empty when url is missing or invalid: reported already
    auto why = model::check_instance_id(def.id, "the default id (from url)");
    if (!def.id.empty() && why) r.error("id", *why + "; set id");
  }
  def.version = r.string("version", "1", rule(model::check_version));
  def.weight = static_cast<int>(r.integer("weight", 100, {0, 256}));
  read_tags(r, def);
  read_meta(r, def);
  r.string("protocol", "",
           [&def](std::string_view text) { return read_protocol(text, def.url, def.protocol); });
  def.drain = r.duration("drain", 5s, {0ms, 10min});
  if (r.has("check")) {
    // Not a map: already reported, and "exactly one of" would only repeat it.
    const auto at = errors.lines().size();
    auto check = r.map("check");
    if (errors.lines().size() == at) def.check = read_check(check, errors);
  } else {
    r.map("check");  // `check:` with no value is missing, not also unknown
    r.error("check", "required (none: true registers without a health check)");
  }
  r.finish();
  if (errors.lines().size() == before) out.definition = std::move(def);
  return out;
}

}  // namespace

ServiceFile read_service_file(const std::string& path, config::Errors& errors) {
  const auto before = errors.lines().size();
  auto doc = config::load_file(path, errors);
  if (!doc) return {};
  return read_service_document(*doc, before, errors);
}

}  // namespace detail

ServiceDefinition parse_service_text(std::string_view text, const std::string& file) {
  config::Errors errors;
  auto doc = config::parse_text(text, file, errors);
  detail::ServiceFile read;
  if (doc) read = detail::read_service_document(*doc, 0, errors);
  errors.throw_if_any();
  return std::move(*read.definition);
}

ServiceDefinition load_service_file(const std::string& path) {
  config::Errors errors;
  auto file = detail::read_service_file(path, errors);
  errors.throw_if_any();
  return std::move(*file.definition);
}

ServiceDefinition quick_service(const std::string& service_arg, const std::string& url,
                                const std::string& interval_text, const std::string& check_url,
                                const std::string& protocol_text) {
  std::vector<std::string> problems;
  ServiceDefinition def;
  def.service = service_name(service_arg);
  if (def.service.empty()) {
    problems.push_back("SERVICE: \"" + model::printable(service_arg) +
                       "\" names no service (expected NAME or //HOST/NAME)");
  } else if (auto why = model::check_service_name(def.service, "SERVICE:")) {
    problems.push_back(*why);
  }

  def.url = url;
  auto parsed = model::parse_instance_url(url, "URL:");
  if (auto* why = std::get_if<std::string>(&parsed)) problems.push_back(*why);
  if (!protocol_text.empty()) {
    if (auto why = read_protocol(protocol_text, url, def.protocol))
      problems.push_back("--protocol: " + *why);
  }
  // HTTP/2 servers (gRPC's above all) need not answer an HTTP/1.1 GET: they are connected to.
  const bool h2 = def.protocol == model::Protocol::http2 || def.protocol == model::Protocol::grpc;

  auto& check = def.check;
  if (!interval_text.empty()) {
    auto interval = parse_interval(interval_text);
    if (!interval) {
      problems.push_back(
          "INTERVAL: expected whole seconds like 3 or a duration like 500ms, got \"" +
          model::printable(interval_text) + "\"");
    } else if (*interval < 100ms) {
      problems.push_back("INTERVAL: " + interval_text + " is below the minimum 100ms");
    } else if (*interval > 1h) {
      problems.push_back("INTERVAL: " + interval_text + " is above the maximum 1h");
    } else {
      check.interval = *interval;
    }
  }
  check.timeout = std::min<Duration>(check.interval, 2s);

  if (!check_url.empty()) {
    if (auto why = detail::parse_http_check(check_url, check))
      problems.push_back("--check: " + *why);
  } else if (auto* u = std::get_if<model::InstanceUrl>(&parsed)) {
    if (u->scheme == "tcp" || h2) {
      check.kind = Check::Kind::tcp;
      check.tcp_host = u->host;
      check.tcp_port = u->port;
    } else {
      std::string base = url;
      while (base.ends_with('/')) base.pop_back();
      if (auto why = detail::parse_http_check(base + "/liveness_check", check)) {
        problems.push_back("URL: " + *why);
      }
    }
  }
  if (std::holds_alternative<model::InstanceUrl>(parsed)) {
    def.id = default_id(url);
    if (auto why = model::check_instance_id(def.id, "the default id (from URL)")) {
      problems.push_back("URL: " + *why);
    }
  }
  if (!problems.empty()) throw config::ConfigError(problems);
  return def;
}

}  // namespace dstack::watson
