// SPDX-License-Identifier: Apache-2.0
#pragma once
// A refusal the API turns into {"error": code, "message": message} with `status`.

#include <string>
#include <variant>

namespace dstack::directory {

struct ApiError {
  int status = 400;
  std::string code;
  std::string message;
};

struct Done {};

template <class T = Done>
using Outcome = std::variant<T, ApiError>;

}  // namespace dstack::directory
