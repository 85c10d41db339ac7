// SPDX-License-Identifier: Apache-2.0
#pragma once
// Beast-free HTTP types shared by the server, the client and the programs, so that code using
// them compiles without Beast.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dstack::net {

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // as sent: path and query
  std::string path;    // the path as sent (still percent-encoded), without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::string body;
  // The first Authorization field's value; nullopt when the request had none, "" when it was
  // empty (a malformed one, docs/security.md#token-secrets).
  std::optional<std::string> authorization;
  std::string accept_encoding;  // the console's files are sent gzip-compressed when it allows
  std::string remote;           // peer address, for logs

  std::optional<std::string> query_param(std::string_view name) const;
};

class SendBatch;  // common/net/send_batch.hpp

// A long-lived chunked response (the watch stream). The server owns the connection; the
// application pushes chunks, framed once (frame_chunk) and shared, so one event fans out to many
// watchers as the same bytes. The queue is bounded: a reader that falls too far behind is cut off.
class StreamSink {
 public:
  using Chunk = std::shared_ptr<const std::string>;  // one framed chunk, from frame_chunk()
  virtual ~StreamSink() = default;
  // Queues a chunk; false when the stream has ended (or just ended because the bound was hit).
  virtual bool write(Chunk chunk) = 0;
  // As write(), except that a chunk that can go straight to the socket is added to `batch`,
  // with this sink as its tag, instead of sent at once: whoever flushes the batch hands this
  // send's result to sent(). `chunk` must stay alive until then.
  virtual bool write(const Chunk& chunk, SendBatch& batch) = 0;
  // The result of this sink's send in a flushed batch (SendBatch::Sent::result): false when the
  // stream ended because of it (what the socket did not take went over the bound).
  virtual bool sent(const Chunk& chunk, long result) = 0;
  // Ends the stream after what is queued has been sent.
  virtual void close() = 0;
  virtual bool closed() const = 0;
  // Called once when the stream ends for any reason. Set it before returning from start_stream.
  virtual void on_close(std::function<void()> callback) = 0;
};

// `data` as one chunk of a chunked body: its size in hex, CRLF, the data, CRLF.
StreamSink::Chunk frame_chunk(std::string_view data);

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the server answers `status` with a chunked body and hands the stream over.
  std::function<void(std::shared_ptr<StreamSink>)> start_stream;
};

// Splits "/a%20b?x=1&y" into the path as sent and decoded query pairs. Returns false when the
// query's percent-encoding is malformed.
bool split_target(std::string_view target, std::string& path,
                  std::vector<std::pair<std::string, std::string>>& query);

// ASCII case-insensitive equality, as HTTP compares header names and most tokens.
bool iequals(std::string_view a, std::string_view b);

// Whether an Accept-Encoding header value admits gzip (RFC 9110 §12.5.3: "gzip" or "*", in any
// case, with no q or a q above 0).
bool accepts_gzip(std::string_view accept_encoding);

// Percent-encodes everything but RFC 3986's unreserved characters, for a path segment or a
// query value.
std::string percent_encode(std::string_view text);

// "/v1/routes/e%2Fmitter/" -> {"v1", "routes", "e/mitter"}: split first, then decode each
// segment, so an encoded '/' stays inside its segment. A trailing '/' is ignored. nullopt when a
// segment's percent-encoding is malformed.
std::optional<std::vector<std::string>> path_segments(std::string_view raw_path);

}  // namespace dstack::net
