// SPDX-License-Identifier: Apache-2.0
#pragma once
// Result<T>: a value or an Error, for expected runtime failures (network, peers, bad requests).
// Start-up and config problems throw instead; impossible states assert.

#include <string>
#include <utility>
#include <variant>

namespace dstack {

enum class ErrorKind {
  unreachable,   // could not connect, timed out, connection dropped
  unauthorized,  // 401/403
  refused,       // the peer refused the input (4xx other than the ones below)
  not_found,     // 404
  stale,         // 410: revision or epoch no longer valid
  server,        // 5xx
  protocol,      // the peer answered something we cannot understand
};

struct Error {
  ErrorKind kind = ErrorKind::protocol;
  std::string code;     // machine-readable, e.g. "invalid_name"
  std::string message;  // for people
  int status = 0;       // HTTP status when there was one
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace dstack
