// SPDX-License-Identifier: Apache-2.0
#pragma once
// Config files: YAML in, typed values out, every problem reported as
// `FILE:LINE:COL: KEY: PROBLEM` (1-based positions, dotted key paths like `lease.max_ttl`,
// `tags[2]`). Problems are collected, never thrown one by one, so an operator sees all of them
// in one run; the daemon calls Errors::throw_if_any() once everything has been read.
//
// Contract of MapReader:
// - Every getter returns a usable value even after a problem (the default), so reading goes on.
// - A key written with no value (`key:` or `key: ~`) counts as absent.
// - finish() reports every key no getter asked for as an unknown key, in this map and in every
//   nested map obtained through map(); call it once on the top-level reader.
// - A key given twice in one map is reported as a duplicate; the first one is used.

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/core/duration.hpp"

namespace dstack::config {

// Thrown by Errors::throw_if_any(); what() is every line joined by '\n'.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> lines);
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
};

// Collects problem lines in the order they were found; an identical line is kept once, so
// reading the same bad value twice does not report it twice.
class Errors {
 public:
  // FILE:LINE:COL: KEY: PROBLEM. An empty key leaves out "KEY: "; a mark with no position
  // (e.g. from an empty file) is reported as 1:1.
  void add(std::string_view file, const YAML::Mark& at, std::string_view key,
           std::string_view problem);
  // FILE: PROBLEM, for problems that have no position (an unreadable file).
  void add(std::string_view file, std::string_view problem);

  bool empty() const { return lines_.empty(); }
  const std::vector<std::string>& lines() const { return lines_; }
  void throw_if_any() const;

 private:
  void push(std::string line);
  std::vector<std::string> lines_;
};

// A parsed file. root is always a map (an empty file is an empty map).
struct Document {
  std::string file;  // as given to load_file/parse_text; starts every error line
  YAML::Node root;
};

// nullopt after reporting why: the file cannot be read, is not valid YAML, holds more than one
// YAML document, or its top level is not a map.
std::optional<Document> load_file(const std::string& path, Errors& errors);
std::optional<Document> parse_text(std::string_view text, std::string_view file, Errors& errors);

// How a value reads in a problem: "nothing", "a map", "a sequence", or the scalar in quotes
// (shortened when long). For messages like `expected a map, got a sequence`.
std::string describe(const YAML::Node& value);

template <class T>
struct Bounds {
  std::optional<T> min;
  std::optional<T> max;
};

// Returns a problem to report with the key, or nullopt when the value is acceptable.
using Check = std::function<std::optional<std::string>(std::string_view)>;

// Reads one YAML map. Cheap to copy; copies and nested readers share the same record of which
// keys were read.
class MapReader {
 public:
  MapReader(const Document& doc, Errors& errors);
  // For a node that did not come from a Document; `map` must be a map (or null: empty).
  MapReader(const YAML::Node& map, std::string file, Errors& errors);

  // Scalars. `check` runs on a present value only (defaults are trusted).
  std::string string(std::string_view key, std::string_view def, const Check& check = {});
  std::string required_string(std::string_view key, const Check& check = {});
  std::string one_of(std::string_view key, std::string_view def,
                     std::initializer_list<std::string_view> choices);
  std::int64_t integer(std::string_view key, std::int64_t def, Bounds<std::int64_t> b = {});
  bool boolean(std::string_view key, bool def);  // true/false, yes/no, on/off
  Duration duration(std::string_view key, Duration def, Bounds<Duration> b = {});  // 3s, 500ms
  std::uint64_t size(std::string_view key, std::uint64_t def,
                     Bounds<std::uint64_t> b = {});  // 512, 16KiB, 1MiB

  // Collections; an absent key gives def.
  std::vector<std::string> string_list(std::string_view key, std::vector<std::string> def,
                                       const Check& check = {});
  std::vector<std::int64_t> integer_list(std::string_view key, std::vector<std::int64_t> def,
                                         Bounds<std::int64_t> b = {});
  std::map<std::string, std::string> string_map(std::string_view key,
                                                std::map<std::string, std::string> def);

  // A nested map; absent gives an empty one. Asking twice for the same key gives readers that
  // share what was read.
  MapReader map(std::string_view key);

  // For rules across keys ("exactly one of"). has() is false for a key with no value. Neither
  // counts as reading the key.
  bool has(std::string_view key) const;
  std::vector<std::string> keys() const;

  // Reports a problem found by the caller: at the key's value when present, else at this map.
  // An empty key means this map itself.
  void error(std::string_view key, std::string_view problem);

  // Reports unread keys here and in every nested map (once, however often it is called).
  void finish();

 private:
  struct State;
  explicit MapReader(std::shared_ptr<State> state) : s_(std::move(state)) {}
  std::shared_ptr<State> s_;
};

}  // namespace dstack::config
