// SPDX-License-Identifier: Apache-2.0
#pragma once
// One line of HAProxy's per-request log as sherlock asks for it, and the access log's JSON line
// made from it (docs/sherlock.md#access-log). Pure: no I/O, so every line HAProxy may send is
// tested (and fuzzed) as text.
//
// HAProxy sends, for each request the proxy frontend answered, one line in `kLogFormat` (with
// the access log on; else the shorter kCountFormat below): tab-separated accept time (Unix seconds,
// then milliseconds), backend, server, status, the request, queue, connect, response and total
// times in ms (-1: not reached), bytes sent to the client, method, X-Request-ID, retries and the
// termination state. Every field is HAProxy's own or checked before it got there (the request id
// matches a narrow pattern), but the reader trusts none of it: a line that is not exactly this
// shape is refused whole.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dstack::sherlock {

// The value of `log-format` in the proxy frontend (a double-quoted HAProxy string): kLogFormat
// with the access log on, else kCountFormat (backend, server, status, the five timers and the
// termination state: what counting needs, and cheaper for HAProxy to write).
extern const char* const kLogFormat;
extern const char* const kCountFormat;

// Its texts are views into the line it was read from: reading one allocates nothing, since every
// proxied request passes here (docs/insight.md).
struct RequestRecord {
  std::uint64_t accepted_ms = 0;  // since the Unix epoch
  std::string_view backend;       // be_<service>, or the frontend's name when none was chosen
  std::string_view server;        // the instance id, or "<NOSRV>"
  int status = -1;                // -1: none was sent (the client left first)
  // -1: not reached. 64 bits: a WebSocket or gRPC stream may last longer than an int of ms.
  std::int64_t request_ms = -1, queue_ms = -1, connect_ms = -1, response_ms = -1, total_ms = -1;
  std::uint64_t bytes = 0;
  std::string_view method;
  std::string_view request_id;  // empty: none
  int retries = 0;
  std::string_view termination;  // HAProxy's termination state, "----" for a normal end
};

// nullopt for anything but one line of kLogFormat or kCountFormat (HAProxy's own notices arrive
// on the same socket). A trailing newline is allowed. From kCountFormat, the fields it lacks
// keep their defaults.
std::optional<RequestRecord> parse_request_log(std::string_view line);

// The service a record's backend serves, or empty (the frontend answered itself: an unknown
// service's 404). A view into the record's line.
std::string_view service_of(const RequestRecord& record);
// Whether an instance was chosen (a service's backend and a server other than <NOSRV>).
bool has_instance(const RequestRecord& record);

// The access log's line for a record, ending in '\n': one JSON object with time, consumer,
// service, version, instance, status, method, request_id, timings, bytes, retries, termination
// (empty consumer, service, version or instance, a status of -1 and unreached timers are null).
std::string access_log_line(const RequestRecord& record, std::string_view consumer,
                            std::string_view version);

}  // namespace dstack::sherlock
