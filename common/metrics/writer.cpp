// SPDX-License-Identifier: Apache-2.0
#include "common/metrics/writer.hpp"

#include <cassert>
#include <charconv>
#include <cmath>

namespace dstack::metrics {

namespace {

[[maybe_unused]] bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Help text is one line: backslash and newline escaped.
std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Whole numbers (every counter) as integers: to_chars' shortest form would write 1e+06.
  if (value == std::trunc(value) && std::fabs(value) < 9.0e15) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(value));
    assert(ec == std::errc());
    return std::string(buf, end);
  }
  // Fractions as people write them (0.0005, not 5e-04); only extreme values in exponent form.
  const double magnitude = std::fabs(value);
  const auto format =
      magnitude >= 1e-6 && magnitude < 1e15 ? std::chars_format::fixed : std::chars_format::general;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, format);
  assert(ec == std::errc());
  return std::string(buf, end);
}

void Writer::family(std::string_view name, std::string_view help, std::string_view type) {
  assert(valid_name(name));
  if (current_ == name) return;
  [[maybe_unused]] bool first = done_.emplace(name).second;
  assert(first && "a metric family written in two blocks");
  current_ = std::string(name);
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Writer::sample(std::string_view name, Labels labels, double value, const Label* extra) {
  out_ += name;
  if (labels.size() > 0 || extra) {
    char sep = '{';
    auto add = [&](const Label& l) {
      assert(valid_name(l.name));
      out_ += sep;
      out_ += l.name;
      out_ += "=\"";
      out_ += escape_label_value(l.value);
      out_ += '"';
      sep = ',';
    };
    for (const auto& l : labels) add(l);
    if (extra) add(*extra);
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

Writer& Writer::gauge(std::string_view name, std::string_view help, double value, Labels labels) {
  family(name, help, "gauge");
  sample(name, labels, value);
  return *this;
}

Writer& Writer::counter(std::string_view name, std::string_view help, double value, Labels labels) {
  assert(name.ends_with("_total"));
  family(name, help, "counter");
  sample(name, labels, value);
  return *this;
}

Writer& Writer::histogram(std::string_view name, std::string_view help, const Histogram& h,
                          Labels labels) {
  family(name, help, "histogram");
  const std::string bucket = std::string(name) + "_bucket";
  const auto& bounds = h.upper_bounds();
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    Label extra{"le", le};
    sample(bucket, labels, static_cast<double>(h.cumulative(i)), &extra);
  }
  sample(std::string(name) + "_sum", labels, h.sum());
  sample(std::string(name) + "_count", labels, static_cast<double>(h.count()));
  return *this;
}

Writer& Writer::histogram(std::string_view name, std::string_view help,
                          std::span<const double> bounds, std::span<const std::uint64_t> per_bucket,
                          double sum, Labels labels) {
  assert(per_bucket.size() == bounds.size() + 1);
  family(name, help, "histogram");
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += per_bucket[i];
    std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    Label extra{"le", le};
    sample(bucket, labels, static_cast<double>(cumulative), &extra);
  }
  sample(std::string(name) + "_sum", labels, sum);
  sample(std::string(name) + "_count", labels, static_cast<double>(cumulative));
  return *this;
}

}  // namespace dstack::metrics
