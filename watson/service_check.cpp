// SPDX-License-Identifier: Apache-2.0
// The `check` map of a service file: exactly one of http / tcp / exec / none, and the timing keys.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <variant>

#include "common/config/checks.hpp"
#include "common/model/url.hpp"
#include "common/model/validate.hpp"
#include "watson/service_reader.hpp"

namespace dstack::watson::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kHostPortRule = "expected host:port, like 127.0.0.1:5432";

// The rule part of a model message `FIELD "VALUE" is invalid: RULE`, to restate it for a value
// that was rewritten before parsing.
std::string rule_of(const std::string& message) {
  constexpr std::string_view kSep = "\" is invalid: ";
  auto at = message.rfind(kSep);
  return at == std::string::npos ? message : message.substr(at + kSep.size());
}

Problem refuse(std::string_view value, std::string_view rule) {
  return bare(model::invalid("", value, rule));
}

// "http", "http and tcp", "http, tcp and exec".
std::string and_list(const std::vector<std::string_view>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

bool executable_file(const std::string& path, int& err) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    err = errno;
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    err = EISDIR;
    return false;
  }
  if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0) {
    err = EACCES;
    return false;
  }
  return true;
}

// The keys only an http check reads; with another kind they are mistakes, not unknown keys.
void refuse_http_keys(config::MapReader& c) {
  // Read (so they are not also unknown keys), then refused whatever their value.
  for (std::string_view key : {"method", "expect_status", "expect_body"}) {
    if (!c.has(key)) continue;
    if (key == "expect_status") {
      c.integer_list(key, {});
    } else {
      c.string(key, "");
    }
    c.error(key, "applies only to http checks");
  }
}

void read_http(config::MapReader& c, Check& check) {
  c.string("http", "", [&](std::string_view text) { return parse_http_check(text, check); });
  check.method = c.one_of("method", "GET", {"GET", "HEAD", "POST", "PUT", "OPTIONS"});
  auto statuses = c.integer_list("expect_status", {}, {100, 599});
  check.expect_status.assign(statuses.begin(), statuses.end());
  check.expect_body = c.string("expect_body", "");
  if (check.method == "HEAD" && !check.expect_body.empty()) {
    c.error("expect_body", "a HEAD response has no body");
  }
}

void read_timing(config::MapReader& c, config::Errors& errors, Check& check) {
  const auto before = errors.lines().size();
  check.interval = c.duration("interval", 3s, {100ms, 1h});
  const bool interval_ok = errors.lines().size() == before;
  check.timeout = std::min<Duration>(check.interval, 2s);
  if (c.has("timeout")) {
    const auto at = errors.lines().size();
    auto timeout = c.duration("timeout", check.timeout, {10ms, 1h});
    if (errors.lines().size() == at && interval_ok && timeout > check.interval) {
      c.error("timeout", format_duration(timeout) + " is longer than check.interval " +
                             format_duration(check.interval));
    } else if (errors.lines().size() == at) {
      check.timeout = timeout;
    }
  }
  check.rise = static_cast<int>(c.integer("rise", 2, {1, 100}));
  check.fall = static_cast<int>(c.integer("fall", 3, {1, 100}));
}

}  // namespace

Problem bare(Problem problem) {
  return config::without_field(std::move(problem));
}

Problem parse_http_check(std::string_view text, Check& check) {
  // A query is fine in a check URL (it never reaches HAProxy); the rest follows instance URLs.
  const auto question = text.find('?');
  const std::string_view base = text.substr(0, question);
  if (question != std::string_view::npos) {
    for (char c : text.substr(question + 1)) {
      if (c <= ' ' || c > '~' || c == '#') {
        return refuse(text, "the query may hold only printable characters other than ' ' and '#'");
      }
    }
  }
  auto parsed = model::parse_instance_url(base, "");
  if (auto* message = std::get_if<std::string>(&parsed)) return refuse(text, rule_of(*message));
  const auto& url = std::get<model::InstanceUrl>(parsed);
  if (url.scheme == "tcp") return refuse(text, "a check URL must start with http:// or https://");

  // The target keeps the path as written (a trailing '/' can matter to the service).
  const auto authority_end = base.find('/', base.find("://") + 3);
  std::string target(authority_end == std::string_view::npos ? "/" : base.substr(authority_end));
  if (question != std::string_view::npos) target += text.substr(question);

  check.kind = Check::Kind::http;
  check.http_url = std::string(text);
  check.http_tls = url.scheme == "https";
  check.http_host = url.host;
  check.http_port = url.port;
  check.http_target = std::move(target);
  return std::nullopt;
}

Problem parse_tcp_check(std::string_view text, Check& check) {
  if (text.find('/') != std::string_view::npos) return refuse(text, kHostPortRule);
  // Host and port follow the instance URL rules, so a tcp:// URL does the checking.
  auto parsed = model::parse_instance_url("tcp://" + std::string(text), "");
  if (auto* message = std::get_if<std::string>(&parsed)) {
    std::string rule = rule_of(*message);
    if (rule == "tcp URLs need a port") rule = kHostPortRule;
    return refuse(text, rule);
  }
  const auto& url = std::get<model::InstanceUrl>(parsed);
  check.kind = Check::Kind::tcp;
  check.tcp_host = url.host;
  check.tcp_port = url.port;
  return std::nullopt;
}

Problem check_executable(std::string_view program) {
  const std::string quoted = "\"" + model::printable(program) + "\"";
  if (program.empty()) return "the program name is empty";
  int err = 0;
  if (program.find('/') != std::string_view::npos) {
    // watson's working directory is nothing an operator should depend on.
    if (program.front() != '/') return quoted + " is not an absolute path";
    if (executable_file(std::string(program), err)) return std::nullopt;
    return quoted +
           " is not an executable file: " + std::error_code(err, std::generic_category()).message();
  }
  const char* env = std::getenv("PATH");
  const std::string_view path = env && *env ? env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = std::min(path.find(':', start), path.size());
    const std::string_view dir = path.substr(start, end - start);
    start = end + 1;
    if (dir.empty() || dir.front() != '/') continue;  // a relative entry depends on the cwd
    if (executable_file(std::string(dir) + "/" + std::string(program), err)) return std::nullopt;
  }
  return quoted + " is not an executable file (searched PATH)";
}

Check read_check(config::MapReader c, config::Errors& errors) {
  Check check;
  std::vector<std::string_view> given;
  for (std::string_view kind : {"http", "tcp", "exec", "none"}) {
    if (c.has(kind)) given.push_back(kind);
  }
  if (given.empty()) {
    c.error("", "exactly one of http, tcp, exec or none is needed");
  } else if (given.size() > 1) {
    c.error("", "only one of http, tcp, exec or none may be given, found " + and_list(given));
  }
  // Every kind given is read and checked, so each of its problems is reported too.
  Check scratch;
  for (auto kind : given) {
    Check& into = kind == given.front() ? check : scratch;
    if (kind == "http") {
      read_http(c, into);
    } else if (kind == "tcp") {
      c.string("tcp", "", [&](std::string_view text) { return parse_tcp_check(text, into); });
    } else if (kind == "exec") {
      const auto before = errors.lines().size();
      into.argv = c.string_list("exec", {});
      if (errors.lines().size() != before) continue;
      into.kind = Check::Kind::exec;
      if (into.argv.empty()) {
        c.error("exec", "expected a program and its arguments, got an empty list");
      } else if (auto why = check_executable(into.argv.front())) {
        c.error("exec", *why);
      }
    } else if (!c.boolean("none", true)) {
      c.error("none", "must be true (none: true registers without a health check)");
    }
  }
  if (given.empty() || given.front() != "http") refuse_http_keys(c);
  read_timing(c, errors, check);
  return check;
}

}  // namespace dstack::watson::detail
