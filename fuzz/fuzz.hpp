// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the fuzz targets share (docs/fuzzing.md): the input as text, a check that stays on in
// optimised builds (assert does not), and the input split into arguments.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

// A property the target asserts: on failure, say which and abort, so libFuzzer saves the input.
#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "fuzz check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (false)

namespace dstack::fuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input cut at every `separator`, as a command line's arguments (at most `max` of them; the
// last keeps the rest).
inline std::vector<std::string> split(std::string_view input, char separator, std::size_t max) {
  std::vector<std::string> out;
  while (out.size() + 1 < max) {
    const auto at = input.find(separator);
    if (at == std::string_view::npos) break;
    out.emplace_back(input.substr(0, at));
    input.remove_prefix(at + 1);
  }
  out.emplace_back(input);
  return out;
}

// Config loaders open the files a config names (token, certificates): keep the fuzzer off
// device and kernel files, which could block or never end (/dev/stdin, /dev/zero).
inline bool names_special_files(std::string_view input) {
  for (std::string_view dir : {"/dev/", "/proc/", "/sys/"})
    if (input.find(dir) != std::string_view::npos) return true;
  return false;
}

}  // namespace dstack::fuzz
