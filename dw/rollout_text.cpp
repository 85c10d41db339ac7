// SPDX-License-Identifier: Apache-2.0
#include "dw/rollout_text.hpp"

#include <cstdio>

#include "common/core/duration.hpp"
#include "common/core/number.hpp"
#include "common/model/validate.hpp"

namespace dstack::dw {

namespace {

using model::RolloutPhase;

std::string fixed(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", v);
  return text;
}

// "45s", "12m30s", "2h5m": how long until a step is judged, to the second.
std::string how_long(std::int64_t seconds) {
  const auto h = seconds / 3600, m = seconds % 3600 / 60, s = seconds % 60;
  if (h > 0) return std::to_string(h) + "h" + (m ? std::to_string(m) + "m" : "");
  if (m > 0) return std::to_string(m) + "m" + (s ? std::to_string(s) + "s" : "");
  return std::to_string(s) + "s";
}

std::string step_of(const model::RolloutState& r) {
  return "step " + std::to_string(r.step + 1) + " of " + std::to_string(r.spec.steps.size());
}

std::string whose(const model::RolloutSpec& spec) {
  return spec.consumer.empty() ? "everyone's route" : "consumer " + spec.consumer + "'s route";
}

std::string steps_line(const model::RolloutState& r) {
  std::string out;
  for (std::size_t i = 0; i < r.spec.steps.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(r.spec.steps[i]) + "%";
    const char* mark = "";
    if (i < r.step) {
      mark = " passed";
    } else if (i == r.step) {
      switch (r.phase) {
        case RolloutPhase::running:
        case RolloutPhase::paused:
          mark = " now";
          break;
        case RolloutPhase::aborted:
          mark = " aborted";
          break;
        case RolloutPhase::succeeded:
          // The last step passed, or this one was promoted by hand (the last one, too, may be).
          mark = r.reason == model::kEveryStepPassed ? " passed" : " promoted";
          break;
      }
    } else if (r.phase == RolloutPhase::succeeded) {
      mark = " skipped";  // promoted by hand before
    }
    out += mark;
  }
  return out;
}

// The figures beside their bounds.
std::vector<std::string> figures_lines(const model::RolloutSpec& spec, const model::Judgement& j) {
  Table t({"", "canary " + spec.to, "stable " + spec.from, "bound"});
  const auto p99 = [](const model::VersionFigures& f) {
    return f.p99_ms ? model::ms_text(*f.p99_ms) : "-";
  };
  t.add({"requests", std::to_string(j.canary.requests), std::to_string(j.stable.requests),
         std::to_string(spec.min_requests) + " or more"});
  t.add({"error ratio", model::percent_text(j.canary.error_ratio()),
         model::percent_text(j.stable.error_ratio()),
         model::percent_text(spec.max_error_ratio) + " or less"});
  std::string p99_bound;
  if (spec.max_p99_ms) p99_bound = model::ms_text(*spec.max_p99_ms) + " or less";
  if (spec.max_p99_ratio)
    p99_bound += (p99_bound.empty() ? "" : "; ") + fixed(*spec.max_p99_ratio) + "x stable or less";
  t.add({"p99", p99(j.canary), p99(j.stable), p99_bound.empty() ? "none" : p99_bound});
  t.align_right(1);
  t.align_right(2);
  auto lines = t.lines();
  for (auto& l : lines) l = "  " + l;
  return lines;
}

std::string next_line(const model::RolloutView& v, std::int64_t now_ms) {
  const auto& r = v.state;
  const auto& spec = r.spec;
  switch (r.phase) {
    case RolloutPhase::running: {
      std::string when = "when the interval ends";
      if (!v.judge_at_ms)
        when = "once this step's route is set";
      else if (*v.judge_at_ms > now_ms)
        when = "in " + how_long((*v.judge_at_ms - now_ms + 999) / 1000);
      const std::string pass = r.step + 1 < spec.steps.size()
                                   ? std::to_string(spec.steps[r.step + 1]) + "% to " + spec.to
                                   : "succeeded, 100% to " + spec.to;
      return "next      " + when + ": within the bounds, " + pass + "; out of them, aborted, " +
             "100% back to " + spec.from + "\n          under " +
             std::to_string(spec.min_requests) + " canary requests, the step waits (" +
             std::to_string(r.waits) + " of 3 waits, then it pauses)";
    }
    case RolloutPhase::paused:
      return "next      nothing until `dw rollout resume " + spec.service + "` (sets " +
             std::to_string(spec.steps[r.step]) + "% again and judges a new interval), " +
             "`promote` or `abort`";
    case RolloutPhase::succeeded:
      return "route     100% to " + spec.to;
    case RolloutPhase::aborted:
      return "route     100% to " + spec.from;
  }
  return {};
}

}  // namespace

std::variant<model::RolloutSpec, std::vector<std::string>> parse_rollout_flags(
    const std::string& service, const RolloutFlags& flags) {
  std::vector<std::string> problems;
  // The fields whose flag could not be read: their values are not checked again below.
  std::vector<std::string_view> unread;
  model::RolloutSpec spec;
  spec.service = service;
  spec.to = flags.to;
  spec.from = flags.from;
  spec.consumer = flags.consumer;
  if (flags.steps) {
    spec.steps.clear();
    const std::string_view text = *flags.steps;
    bool ok = true;
    for (std::size_t at = 0; ok && at <= text.size();) {
      const auto comma = std::min(text.find(',', at), text.size());
      const auto step = parse_number<int>(text.substr(at, comma - at));
      ok = step.has_value();
      if (ok) spec.steps.push_back(*step);
      at = comma + 1;
    }
    if (!ok) {
      problems.push_back(model::invalid(
          "--steps", text, "must be percents separated by commas, such as 5,25,50,100"));
      unread.push_back("steps");
    }
  }
  if (flags.interval) {
    if (auto d = parse_duration(*flags.interval)) {
      spec.interval = *d;
    } else {
      problems.push_back(
          model::invalid("--interval", *flags.interval, "must be a duration such as 30s or 1m"));
      unread.push_back("interval");
    }
  }
  if (flags.max_error_ratio) {
    const std::string& text = *flags.max_error_ratio;
    if (auto v = parse_ratio(text)) {
      spec.max_error_ratio = *v;
    } else {
      problems.push_back(model::invalid("--max-error-ratio", text,
                                        "must be a percent such as 1% or a ratio such as 0.01"));
      unread.push_back("max_error_ratio");
    }
  }
  if (flags.max_p99) {
    if (auto d = parse_duration(*flags.max_p99)) {
      spec.max_p99_ms = static_cast<double>(d->count());
    } else {
      problems.push_back(
          model::invalid("--max-p99", *flags.max_p99, "must be a duration such as 500ms"));
      unread.push_back("max_p99");
    }
  }
  if (flags.max_p99_ratio) {
    if (auto v = parse_number<double>(*flags.max_p99_ratio)) {
      spec.max_p99_ratio = *v;
    } else {
      problems.push_back(
          model::invalid("--max-p99-ratio", *flags.max_p99_ratio, "must be a number such as 1.5"));
      unread.push_back("max_p99_ratio");
    }
  }
  if (flags.min_requests) {
    const std::string& text = *flags.min_requests;
    if (auto v = parse_number<std::uint64_t>(text)) {
      spec.min_requests = *v;
    } else {
      problems.push_back(
          model::invalid("--min-requests", text, "must be a whole number such as 200"));
      unread.push_back("min_requests");
    }
  }
  for (auto& problem : model::validate_rollout_spec(spec, /*from_required=*/false, unread))
    problems.push_back(std::move(problem));
  if (!problems.empty()) return problems;
  return spec;
}

std::vector<std::string> rollout_status_lines(const model::RolloutView& v, std::int64_t now_ms) {
  const auto& r = v.state;
  const auto& spec = r.spec;
  std::vector<std::string> out;
  out.push_back("rollout of " + spec.service + ": version " + spec.to + " replacing " + spec.from +
                ", " + whose(spec));
  std::string phase = "phase     " + std::string(model::to_string(r.phase));
  if (r.phase == RolloutPhase::running || r.phase == RolloutPhase::paused)
    phase += " at " + step_of(r);
  if (!r.reason.empty()) phase += ": " + r.reason;
  out.push_back(std::move(phase));
  out.push_back("steps     " + steps_line(r));
  out.push_back("interval  " + format_duration(spec.interval) +
                (r.waits > 0
                     ? "; this step waited " + std::to_string(r.waits) + " interval(s) for evidence"
                     : ""));
  const model::Judgement* figures = v.current ? &*v.current : r.last ? &*r.last : nullptr;
  if (figures) {
    out.push_back(v.current ? "figures   this interval so far"
                            : "figures   the last interval judged");
    for (auto& l : figures_lines(spec, *figures)) out.push_back(std::move(l));
  }
  const auto next = next_line(v, now_ms);
  for (std::size_t at = 0; at <= next.size();) {  // one or two lines
    const auto end = std::min(next.find('\n', at), next.size());
    out.push_back(next.substr(at, end - at));
    at = end + 1;
  }
  for (auto& line : out) line = terminal_safe(std::move(line));
  return out;
}

Table rollout_table(const std::vector<model::RolloutView>& rollouts) {
  Table t({"SERVICE", "TO", "FROM", "FOR", "PHASE", "STEP", "REASON"});
  for (const auto& v : rollouts) {
    const auto& r = v.state;
    t.add({r.spec.service, r.spec.to, r.spec.from,
           r.spec.consumer.empty() ? "everyone" : r.spec.consumer, model::to_string(r.phase),
           std::to_string(r.step + 1) + "/" + std::to_string(r.spec.steps.size()) + " (" +
               std::to_string(r.spec.steps[r.step]) + "%)",
           r.reason.empty() ? "-" : r.reason});
  }
  return t;
}

}  // namespace dstack::dw
