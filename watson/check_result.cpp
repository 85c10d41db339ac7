// SPDX-License-Identifier: Apache-2.0
#include "watson/check_result.hpp"

#include <algorithm>
#include <cstdint>

namespace dstack::watson {

const char* to_string(CheckStatus s) {
  switch (s) {
    case CheckStatus::passing:
      return "passing";
    case CheckStatus::warning:
      return "warning";
    case CheckStatus::critical:
      return "critical";
  }
  return "critical";
}

namespace {

// Length of the valid UTF-8 sequence at the start of s, or 0 when it is not one. Overlong forms,
// surrogates and code points past U+10FFFF are refused, as JSON encoders refuse them.
std::size_t utf8_length(std::string_view s) {
  auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(s[i]); };
  auto cont = [&](std::size_t i, std::uint8_t lo = 0x80, std::uint8_t hi = 0xBF) {
    return i < s.size() && b(i) >= lo && b(i) <= hi;
  };
  std::uint8_t c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    std::uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    std::uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

bool is_control(std::string_view ch) {
  auto c = static_cast<std::uint8_t>(ch[0]);
  if (ch.size() == 1) return (c < 0x20 && c != '\n' && c != '\t') || c == 0x7F;
  // U+0080..U+009F, the C1 controls, are encoded C2 80..C2 9F.
  return ch.size() == 2 && c == 0xC2 && static_cast<std::uint8_t>(ch[1]) <= 0x9F;
}

std::string_view trim_right(std::string_view s) {
  auto end = s.find_last_not_of(" \t\r\n");
  return end == std::string_view::npos ? std::string_view{} : s.substr(0, end + 1);
}

// The verdict line, then what the target said, if anything.
CheckOutcome outcome(CheckStatus status, std::string verdict, std::string_view said) {
  said = trim_right(said);
  if (!said.empty()) {
    verdict += '\n';
    // Only the part that can be shown is copied; bound_output makes the final cut.
    verdict.append(said.substr(0, kMaxCheckOutput + 1));
  }
  return {status, bound_output(verdict)};
}

std::string expected_statuses(const std::vector<int>& expect) {
  if (expect.empty()) return "2xx";
  std::string text;
  for (std::size_t i = 0; i < expect.size(); ++i) {
    if (i > 0) text += i + 1 == expect.size() ? " or " : ", ";
    text += std::to_string(expect[i]);
  }
  return text;
}

}  // namespace

std::string bound_output(std::string_view raw) {
  constexpr std::size_t kDots = 3;
  std::string out;
  out.reserve(std::min(raw.size(), kMaxCheckOutput + 4));
  std::size_t cut = 0;  // the last character boundary that leaves room for "..."
  std::size_t i = 0;
  while (i < raw.size() && out.size() <= kMaxCheckOutput) {
    if (out.size() <= kMaxCheckOutput - kDots) cut = out.size();
    std::size_t n = utf8_length(raw.substr(i));
    std::string_view ch = raw.substr(i, n == 0 ? 1 : n);
    if (n == 0 || is_control(ch))
      out += '?';
    else
      out.append(ch);
    i += ch.size();
  }
  if (out.size() <= kMaxCheckOutput - kDots) cut = out.size();
  if (i == raw.size() && out.size() <= kMaxCheckOutput) return out;
  out.resize(cut);
  out += "...";
  return out;
}

CheckOutcome evaluate_http(int status_code, std::string_view body,
                           const std::vector<int>& expect_status, const std::string& expect_body) {
  std::string verdict = "HTTP " + std::to_string(status_code);
  bool status_ok = expect_status.empty() ? status_code >= 200 && status_code <= 299
                                         : std::find(expect_status.begin(), expect_status.end(),
                                                     status_code) != expect_status.end();
  if (!status_ok) {
    verdict += ", expected " + expected_statuses(expect_status);
    // Operators are often surprised that a redirecting endpoint fails; say why.
    if (status_code >= 300 && status_code <= 399) verdict += " (redirects are not followed)";
    return outcome(CheckStatus::critical, verdict, body);
  }
  if (!expect_body.empty() && body.find(expect_body) == std::string_view::npos) {
    verdict += ", body lacks \"" + expect_body + "\"";
    return outcome(CheckStatus::critical, verdict, body);
  }
  return outcome(CheckStatus::passing, verdict, body);
}

CheckOutcome http_failure(std::string_view why) {
  return {CheckStatus::critical, bound_output(why.empty() ? "request failed" : why)};
}

CheckOutcome evaluate_exec(int exit_code_or_minus_signal, bool timed_out, Duration timeout,
                           std::string_view output) {
  if (timed_out)
    return outcome(CheckStatus::critical, "timed out after " + format_duration(timeout), output);
  int code = exit_code_or_minus_signal;
  if (code < 0)
    return outcome(CheckStatus::critical,
                   "killed by signal " + std::to_string(-static_cast<long long>(code)), output);
  CheckStatus status = code == 0   ? CheckStatus::passing
                       : code == 1 ? CheckStatus::warning
                                   : CheckStatus::critical;
  return outcome(status, "exit " + std::to_string(code), output);
}

CheckOutcome evaluate_tcp(bool connected, std::string_view why) {
  if (connected) return {CheckStatus::passing, bound_output(why.empty() ? "connected" : why)};
  return {CheckStatus::critical, bound_output(why.empty() ? "connect failed" : why)};
}

}  // namespace dstack::watson
