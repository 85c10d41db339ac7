// SPDX-License-Identifier: Apache-2.0
#pragma once
// What an exception_ptr holds, for a log line: a std::exception's what(), else a placeholder.
// For completion handlers of detached coroutines, which must log rather than rethrow.

#include <exception>
#include <string>

namespace dstack {

inline std::string exception_text(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

}  // namespace dstack
