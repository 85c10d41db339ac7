// SPDX-License-Identifier: Apache-2.0
#include "common/registry/etcd_watch.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/log/log.hpp"
#include "common/registry/etcd_entries.hpp"

namespace dstack::registry::etcd {

using nlohmann::json;

awaitable<Status> EtcdWatch::open() {
  json create{{"key", base64_encode(keys_.all())},
              {"range_end", base64_encode(range_end(keys_.all()))},
              {"start_revision", std::to_string(revision_ + 1)},
              {"progress_notify", true}};
  const std::string body = json{{"create_request", create}}.dump();
  auto open_watch = members_.open_watch(body);
  auto s = co_await std::move(open_watch);
  if (!s) co_return s.error();
  stream_ = std::move(*s);
  co_return Ok{};
}

awaitable<Result<model::Event>> EtcdWatch::next() {
  for (;;) {
    if (!pending_.empty()) {
      auto e = std::move(pending_.front());
      pending_.pop_front();
      co_return e;
    }
    if (!stream_) {
      // Reopened from the last revision handed out: nothing is missed, nothing replayed.
      auto reopen = open();
      auto st = co_await std::move(reopen);
      if (!st) co_return st.error();
    }
    auto next_line = stream_->next_line();
    auto line = co_await std::move(next_line);
    if (!line) {
      // Idle, dropped, or the member died: open again (on the next member if this one is gone).
      // Two streams in a row that end before saying anything go back to the caller instead.
      stream_->close();
      stream_.reset();
      if (line.error().kind == ErrorKind::protocol || ++quiet_failures_ >= 2)
        co_return line.error();
      continue;
    }
    if (line->empty()) continue;
    auto read = read_line(*line);
    auto st = co_await std::move(read);
    if (!st) {
      if (stream_) stream_->close();
      stream_.reset();
      co_return st.error();
    }
  }
}

awaitable<Status> EtcdWatch::read_line(const std::string& line) {
  auto j = json::parse(line, nullptr, false);
  if (!j.is_object()) co_return protocol_error(members_.authority(), "watch line is not JSON");
  if (j.contains("error")) {
    // The member failed the stream (it lost its leader, say): go on from the next member.
    auto f = failure_of(line);
    Error e{ErrorKind::unreachable, "watch_failed",
            members_.authority() + ": watch ended: " + f.message};
    log::get("etcd")->info("{}; going on from the next member", e.message);
    stream_->close();
    stream_.reset();
    members_.next_member();
    if (++quiet_failures_ >= 2) co_return e;
    co_return Ok{};
  }
  const json& result = field(j, "result");
  const json& header = field(result, "header");
  if (bool_field(result, "canceled")) {
    if (auto compacted = number_field(result, "compact_revision"))
      co_return Error{ErrorKind::stale, "compacted",
                      "revision " + std::to_string(revision_) +
                          " is compacted away (etcd keeps revisions from " +
                          std::to_string(compacted) + ")"};
    const auto reason = string_field(result, "cancel_reason");
    Error e{ErrorKind::unreachable, "watch_canceled",
            members_.authority() + ": watch canceled: " + reason};
    // A token the member no longer takes (its TTL ran out while nothing used it) cancels the
    // watch as it is created: take a new token and open again, once.
    for (const char* auth : {"Unauthenticated", "invalid auth token", "user name is empty",
                             "auth store is old", "PermissionDenied", "permission denied"}) {
      if (reason.find(auth) == std::string::npos) continue;
      e.kind = ErrorKind::unauthorized;
      members_.forget_token();
      stream_->close();
      stream_.reset();
      if (++quiet_failures_ >= 2) co_return e;
      co_return Ok{};
    }
    co_return e;
  }
  quiet_failures_ = 0;
  if (bool_field(result, "created")) {
    auto cluster = string_field(header, "cluster_id");
    if (!epoch_.empty() && cluster != epoch_)
      co_return Error{ErrorKind::stale, "other_cluster",
                      "etcd cluster " + cluster + " is not cluster " + epoch_ + " that revision " +
                          std::to_string(revision_) + " came from"};
    co_return Ok{};
  }
  const json& events = field(result, "events");
  if (!events.is_array() || events.empty()) {
    // A progress notification: everything up to its revision has been sent.
    revision_ = std::max(revision_, number_field(header, "revision"));
    co_return Ok{};
  }
  // An answer carries whole revisions, up to its last event's; not up to its header's, which
  // during a catch-up (1,000 revisions an answer) already names the newest revision. Events at
  // or below what was handed out already are dropped: etcd 3.4 has been seen to send some again
  // on a watch resumed on a lagging member, and applying them would undo later changes.
  const std::uint64_t handed_out = revision_;
  for (const auto& ev : events) {
    const json& kv = field(ev, "kv");
    const auto revision = number_field(kv, "mod_revision");
    if (revision <= handed_out) continue;
    revision_ = std::max(revision_, revision);
    auto entry = read_entry(keys_, kv, string_field(ev, "type") == "DELETE");
    if (!entry || !entry->names_valid) {
      if (entry) report_ignored(*entry);
      continue;
    }
    if (!entry->problem.empty()) report_ignored(*entry);
    pending_.push_back(to_event(std::move(*entry)));
  }
  co_return Ok{};
}

}  // namespace dstack::registry::etcd
