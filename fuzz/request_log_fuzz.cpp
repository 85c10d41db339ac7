// SPDX-License-Identifier: Apache-2.0
// HAProxy's per-request log lines as sherlock reads them for the access log
// (sherlock/request_log.hpp, docs/sherlock.md#access-log): a line is one line of the format or
// refused whole; an accepted one becomes one line of valid JSON that says what was read.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz.hpp"
#include "sherlock/request_log.hpp"

using namespace dstack;
using namespace dstack::sherlock;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line = fuzz::text(data, size);
  const auto record = parse_request_log(line);
  if (!record) return 0;
  const std::string out = access_log_line(*record, "web-1", "2");
  FUZZ_CHECK(!out.empty() && out.back() == '\n');
  FUZZ_CHECK(out.find('\n') == out.size() - 1);
  const auto j = nlohmann::json::parse(out, nullptr, false);
  FUZZ_CHECK(j.is_object());
  FUZZ_CHECK(record->status < 0 ? j["status"].is_null() : j["status"] == record->status);
  FUZZ_CHECK(j["method"] == std::string(record->method) && j["bytes"] == record->bytes &&
             j["termination"] == std::string(record->termination));
  FUZZ_CHECK(record->request_id.empty() ? j["request_id"].is_null()
                                        : j["request_id"] == std::string(record->request_id));
  const std::string service(service_of(*record));
  FUZZ_CHECK(service.empty() ? j["service"].is_null() : j["service"] == service);
  return 0;
}
