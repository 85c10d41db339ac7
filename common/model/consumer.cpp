// SPDX-License-Identifier: Apache-2.0
#include "common/model/consumer.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/model/json.hpp"
#include "common/model/json_fields.hpp"
#include "common/model/validate.hpp"

namespace dstack::model {

namespace {

using nlohmann::json;

// A host name or address, maybe with a port: what `host` and `api` hold.
Problem check_host_text(std::string_view value, std::string_view field) {
  const bool ok =
      !value.empty() && value.size() <= 253 && std::all_of(value.begin(), value.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
      });
  if (ok) return std::nullopt;
  return invalid(field, value, "must match ^[A-Za-z0-9._:\\[\\]-]{1,253}$");
}

std::variant<Consumer, Problems> read(const json& j, std::string name, bool from_directory) {
  Problems problems;
  Consumer out;
  if (!j.is_object()) return Problems{"consumer: expected a JSON object"};
  detail::Fields f(j, problems);
  if (from_directory) {
    f.refuse_unknown({"name", "lease", "host", "api", "services", "last_report"});
    if (auto n = f.string("name", true)) name = std::move(*n);
    if (const json* last = f.member("last_report", true)) {
      if (last->is_null())
        out.last_report_ms = 0;
      else if (last->is_number_integer() && last->get<std::int64_t>() >= 0)
        out.last_report_ms = last->get<std::int64_t>();
      else
        f.wrong_type("last_report", "an integer >= 0", *last);
    }
  } else {
    f.refuse_unknown({"lease", "host", "api", "services"});
  }
  f.add(check_consumer_name(name, "name"));
  out.name = std::move(name);
  if (auto lease = f.string("lease", true)) {
    f.add(check_lease_id(*lease));
    out.lease = std::move(*lease);
  }
  if (auto host = f.string("host", true)) {
    f.add(check_host_text(*host, "host"));
    out.host = std::move(*host);
  }
  if (auto api = f.string("api", false)) {
    if (!api->empty()) f.add(check_host_text(*api, "api"));
    out.api = std::move(*api);
  }
  if (const json* services = f.member("services", true)) {
    if (!services->is_array()) {
      f.wrong_type("services", "an array", *services);
    } else if (auto p = check_count(services->size(), kMaxConsumerServices, "services")) {
      f.add(p);
    } else {
      for (std::size_t i = 0; i < services->size(); ++i) {
        const json& s = (*services)[i];
        const std::string at = "services[" + std::to_string(i) + "]";
        if (!s.is_string()) {
          f.wrong_type(at, "a string", s);
        } else if (auto p = check_service_name(s.get<std::string>(), at)) {
          f.add(p);
        } else {
          out.services.push_back(s.get<std::string>());
        }
      }
      std::sort(out.services.begin(), out.services.end());
      const auto twice = std::adjacent_find(out.services.begin(), out.services.end());
      if (twice != out.services.end()) f.add("services: \"" + *twice + "\" is listed twice");
    }
  }
  if (!problems.empty()) return problems;
  return out;
}

}  // namespace

nlohmann::json to_json(const Consumer& c) {
  return {{"name", c.name}, {"lease", c.lease},       {"host", c.host},
          {"api", c.api},   {"services", c.services}, {"last_report", c.last_report_ms}};
}

std::variant<Consumer, Problems> consumer_from_request(const nlohmann::json& body,
                                                       std::string name) {
  return read(body, std::move(name), false);
}

std::variant<Consumer, Problems> consumer_from_json(const nlohmann::json& j) {
  return read(j, {}, true);
}

}  // namespace dstack::model
