// SPDX-License-Identifier: Apache-2.0
#include "common/config/reader.hpp"

#include <charconv>
#include <limits>

#include "common/core/size.hpp"

namespace dstack::config {
namespace {

struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  bool used = false;
};

std::string join(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty() && !key.empty()) out += '.';
  out += key;
  return out;
}

std::string index_path(std::string_view path, std::size_t i) {
  return std::string(path) + '[' + std::to_string(i) + ']';
}

std::string quote(std::string_view text) {
  // A whole pasted certificate in an error line helps nobody; the start identifies it.
  constexpr std::size_t kMax = 60;
  std::string out = "\"";
  for (char c : text.substr(0, kMax)) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += text.size() > kMax ? "...\"" : "\"";
  return out;
}

std::string format_size(std::uint64_t n) {
  constexpr std::uint64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024;
  if (n != 0 && n % kGiB == 0) return std::to_string(n / kGiB) + "GiB";
  if (n != 0 && n % kMiB == 0) return std::to_string(n / kMiB) + "MiB";
  if (n != 0 && n % kKiB == 0) return std::to_string(n / kKiB) + "KiB";
  return std::to_string(n);
}

// "below the minimum"/"above the maximum" name the bound that was crossed, which reads better
// than a range when only one side matters (durations, sizes).
template <class T, class Format>
std::optional<std::string> bound_problem(std::string_view text, T v, const Bounds<T>& b,
                                         Format format) {
  if (b.min && v < *b.min) return std::string(text) + " is below the minimum " + format(*b.min);
  if (b.max && v > *b.max) return std::string(text) + " is above the maximum " + format(*b.max);
  return std::nullopt;
}

}  // namespace

std::string describe(const YAML::Node& value) {
  if (!value || value.IsNull()) return "nothing";
  if (value.IsMap()) return "a map";
  if (value.IsSequence()) return "a sequence";
  return quote(value.Scalar());
}

struct MapReader::State {
  std::string file;
  Errors* errors = nullptr;
  std::string path;  // dotted path of this map; empty at the top level
  YAML::Mark mark;   // where "this map" is reported when a key is missing
  std::vector<Entry> entries;
  std::vector<std::pair<std::string, std::shared_ptr<State>>> children;
  bool finished = false;

  State(const YAML::Node& map, std::string file_, Errors& errors_, std::string path_,
        YAML::Mark mark_)
      : file(std::move(file_)), errors(&errors_), path(std::move(path_)), mark(mark_) {
    if (!map.IsMap()) return;
    // Range-for keeps each pair alive; yaml-cpp hands out temporaries, so `it->first` dangles.
    for (const auto& pair : map) {
      const YAML::Node& k = pair.first;
      if (!k.IsScalar()) {
        report(k, path, "expected a string key, got " + describe(k));
        continue;
      }
      // yaml-cpp keeps both pairs of a repeated key (and lookups would silently take the
      // first), so duplicates are found here; the repeat is dropped so it is not also unknown.
      if (find(k.Scalar())) {
        report(k, join(path, k.Scalar()), "duplicate key");
        continue;
      }
      entries.push_back(Entry{k.Scalar(), k, pair.second});
    }
  }

  void report(const YAML::Node& at, const std::string& key_path, std::string_view problem) {
    errors->add(file, at.Mark(), key_path, problem);
  }

  Entry* find(std::string_view key) {
    for (auto& e : entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }

  // The value under key, marking the key as read; nullptr when absent or written with no value.
  const YAML::Node* take(std::string_view key) {
    Entry* e = find(key);
    if (!e) return nullptr;
    e->used = true;
    return e->value.IsNull() ? nullptr : &e->value;
  }

  std::optional<std::string> to_string(const YAML::Node& n, const std::string& p,
                                       const Check& check) {
    if (!n.IsScalar()) {
      report(n, p, "expected a string, got " + describe(n));
      return std::nullopt;
    }
    if (check) {
      if (auto problem = check(n.Scalar())) {
        report(n, p, *problem);
        return std::nullopt;
      }
    }
    return n.Scalar();
  }

  std::optional<std::int64_t> to_integer(const YAML::Node& n, const std::string& p,
                                         const Bounds<std::int64_t>& b) {
    const std::string& text = n.IsScalar() ? n.Scalar() : std::string();
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    bool ok = n.IsScalar() && end == text.data() + text.size() && ec == std::errc();
    if (ec == std::errc::result_out_of_range && end == text.data() + text.size()) {
      // Too large for int64: still an integer, so say which bound it crosses when there is one.
      bool negative = text[0] == '-';
      v = negative ? std::numeric_limits<std::int64_t>::min()
                   : std::numeric_limits<std::int64_t>::max();
      ok = negative ? b.min.has_value() : b.max.has_value();
    }
    if (!ok) {
      report(n, p, "expected an integer, got " + describe(n));
      return std::nullopt;
    }
    if (b.min && b.max && (v < *b.min || v > *b.max)) {
      report(n, p,
             text + " is out of range " + std::to_string(*b.min) + ".." + std::to_string(*b.max));
      return std::nullopt;
    }
    auto fmt = [](std::int64_t x) { return std::to_string(x); };
    if (auto problem = bound_problem(text, v, b, fmt)) {
      report(n, p, *problem);
      return std::nullopt;
    }
    return v;
  }

  std::shared_ptr<State> child(std::string_view key);
  void finish();
};

std::shared_ptr<MapReader::State> MapReader::State::child(std::string_view key) {
  for (auto& [k, c] : children) {
    if (k == key) return c;
  }
  const YAML::Node* v = take(key);
  YAML::Node empty(YAML::NodeType::Map);
  if (v && !v->IsMap()) report(*v, join(path, key), "expected a map, got " + describe(*v));
  const bool ok = v && v->IsMap();
  // An absent map is reported (e.g. "required") where its parent is.
  auto c = std::make_shared<State>(ok ? *v : empty, file, *errors, join(path, key),
                                   ok ? v->Mark() : mark);
  children.emplace_back(std::string(key), c);
  return c;
}

void MapReader::State::finish() {
  if (finished) return;
  finished = true;
  // File order, nested maps in place, so the lines read top to bottom like the file.
  for (const auto& e : entries) {
    if (!e.used) report(e.key_node, join(path, e.key), "unknown key");
    for (auto& [k, c] : children) {
      if (k == e.key) c->finish();
    }
  }
}

MapReader::MapReader(const Document& doc, Errors& errors) : MapReader(doc.root, doc.file, errors) {}

MapReader::MapReader(const YAML::Node& map, std::string file, Errors& errors)
    : s_(std::make_shared<State>(map, std::move(file), errors, "", map.Mark())) {}

std::string MapReader::string(std::string_view key, std::string_view def, const Check& check) {
  const YAML::Node* v = s_->take(key);
  if (!v) return std::string(def);
  return s_->to_string(*v, join(s_->path, key), check).value_or(std::string(def));
}

std::string MapReader::required_string(std::string_view key, const Check& check) {
  if (!s_->take(key)) {
    const Entry* e = s_->find(key);
    s_->errors->add(s_->file, e ? e->key_node.Mark() : s_->mark, join(s_->path, key), "required");
    return {};
  }
  return string(key, "", check);
}

std::string MapReader::one_of(std::string_view key, std::string_view def,
                              std::initializer_list<std::string_view> choices) {
  std::string list;
  for (auto c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  return string(key, def, [&](std::string_view v) -> std::optional<std::string> {
    for (auto c : choices) {
      if (c == v) return std::nullopt;
    }
    return "expected one of " + list + ", got " + quote(v);
  });
}

std::int64_t MapReader::integer(std::string_view key, std::int64_t def, Bounds<std::int64_t> b) {
  const YAML::Node* v = s_->take(key);
  if (!v) return def;
  return s_->to_integer(*v, join(s_->path, key), b).value_or(def);
}

bool MapReader::boolean(std::string_view key, bool def) {
  const YAML::Node* v = s_->take(key);
  if (!v) return def;
  bool out = def;
  if (!v->IsScalar() || !YAML::convert<bool>::decode(*v, out)) {
    s_->report(*v, join(s_->path, key), "expected true or false, got " + describe(*v));
    return def;
  }
  return out;
}

Duration MapReader::duration(std::string_view key, Duration def, Bounds<Duration> b) {
  const YAML::Node* v = s_->take(key);
  if (!v) return def;
  const std::string p = join(s_->path, key);
  auto d = v->IsScalar() ? parse_duration(v->Scalar()) : std::nullopt;
  if (!d) {
    s_->report(*v, p, "expected a duration like 3s or 500ms, got " + describe(*v));
    return def;
  }
  if (auto problem = bound_problem(v->Scalar(), *d, b, format_duration)) {
    s_->report(*v, p, *problem);
    return def;
  }
  return *d;
}

std::uint64_t MapReader::size(std::string_view key, std::uint64_t def, Bounds<std::uint64_t> b) {
  const YAML::Node* v = s_->take(key);
  if (!v) return def;
  const std::string p = join(s_->path, key);
  auto n = v->IsScalar() ? parse_size(v->Scalar()) : std::nullopt;
  if (!n) {
    s_->report(*v, p, "expected a size like 512, 16KiB or 1MiB, got " + describe(*v));
    return def;
  }
  if (auto problem = bound_problem(v->Scalar(), *n, b, format_size)) {
    s_->report(*v, p, *problem);
    return def;
  }
  return *n;
}

std::vector<std::string> MapReader::string_list(std::string_view key, std::vector<std::string> def,
                                                const Check& check) {
  const YAML::Node* v = s_->take(key);
  if (!v) return def;
  const std::string p = join(s_->path, key);
  if (!v->IsSequence()) {
    s_->report(*v, p, "expected a list, got " + describe(*v));
    return def;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < v->size(); ++i) {
    auto s = s_->to_string((*v)[i], index_path(p, i), check);
    ok = ok && s.has_value();
    if (s) out.push_back(std::move(*s));
  }
  // All or nothing: a list with a bad item is not what the operator meant either.
  return ok ? out : def;
}

std::vector<std::int64_t> MapReader::integer_list(std::string_view key,
                                                  std::vector<std::int64_t> def,
                                                  Bounds<std::int64_t> b) {
  const YAML::Node* v = s_->take(key);
  if (!v) return def;
  const std::string p = join(s_->path, key);
  if (!v->IsSequence()) {
    s_->report(*v, p, "expected a list, got " + describe(*v));
    return def;
  }
  std::vector<std::int64_t> out;
  bool ok = true;
  for (std::size_t i = 0; i < v->size(); ++i) {
    auto n = s_->to_integer((*v)[i], index_path(p, i), b);
    ok = ok && n.has_value();
    if (n) out.push_back(*n);
  }
  return ok ? out : def;
}

std::map<std::string, std::string> MapReader::string_map(std::string_view key,
                                                         std::map<std::string, std::string> def) {
  const YAML::Node* v = s_->take(key);
  if (!v) return def;
  const std::string p = join(s_->path, key);
  if (!v->IsMap()) {
    s_->report(*v, p, "expected a map, got " + describe(*v));
    return def;
  }
  // A State of its own so repeated and non-string keys are reported as for any other map.
  State inner(*v, s_->file, *s_->errors, p, v->Mark());
  std::map<std::string, std::string> out;
  bool ok = true;
  for (const auto& e : inner.entries) {
    auto s = inner.to_string(e.value, join(p, e.key), {});
    ok = ok && s.has_value();
    if (s) out.emplace(e.key, std::move(*s));
  }
  return ok ? out : def;
}

MapReader MapReader::map(std::string_view key) {
  return MapReader(s_->child(key));
}

bool MapReader::has(std::string_view key) const {
  const Entry* e = s_->find(key);
  return e && !e->value.IsNull();
}

std::vector<std::string> MapReader::keys() const {
  std::vector<std::string> out;
  for (const auto& e : s_->entries) out.push_back(e.key);
  return out;
}

void MapReader::error(std::string_view key, std::string_view problem) {
  const Entry* e = key.empty() ? nullptr : s_->find(key);
  YAML::Mark at = s_->mark;
  if (e) at = e->value.IsNull() ? e->key_node.Mark() : e->value.Mark();
  s_->errors->add(s_->file, at, join(s_->path, key), problem);
}

void MapReader::finish() {
  s_->finish();
}

}  // namespace dstack::config
