// SPDX-License-Identifier: Apache-2.0
// HAProxy's runtime-API answers as sherlock reads them (docs/sherlock.md,
// docs/notes/haproxy-2.6.md): a prompt-mode batch transcript split into one answer per command,
// which answers count as success, `show proc` from the master, and the reload verdict drawn
// from `show proc` before and after. (`show servers state` is not parsed: sherlock hands it back
// to HAProxy as its state file.)
#include <algorithm>

#include "fuzz/fuzz.hpp"
#include "sherlock/haproxy_cli.hpp"
#include "sherlock/haproxy_master.hpp"

using namespace dstack;
using namespace dstack::sherlock;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t commands = data[0] % 16;  // a batch's length
  const std::string transcript(fuzz::text(data + 1, size - 1));

  const auto answers = batch_answers(transcript, commands);
  if (answers) {
    FUZZ_CHECK(answers->size() == commands);
    for (const auto& a : *answers) {
      FUZZ_CHECK(a.find("\n> ") == std::string::npos);
      (void)cli_success(a);
    }
  } else {
    FUZZ_CHECK(answers.error().kind == ErrorKind::protocol);
  }

  // `show proc` before and after a reload: the two halves of the text, cut at the first NUL.
  const auto cut = std::min(transcript.find('\0'), transcript.size());
  const auto before = parse_show_proc(transcript.substr(0, cut));
  const auto now = parse_show_proc(cut < transcript.size() ? transcript.substr(cut + 1) : "");
  if (!before || !now) return 0;
  const auto outcome = reload_outcome(*before, *now);
  if (!outcome) {
    FUZZ_CHECK(now->reloads <= before->reloads);
  } else if (*outcome) {
    // A reload counts as done only with a new worker and no failure.
    FUZZ_CHECK(now->reloads > before->reloads && now->failed == 0 && !now->workers.empty());
    for (pid_t w : now->workers)
      FUZZ_CHECK(std::find(before->workers.begin(), before->workers.end(), w) ==
                 before->workers.end());
  }
  return 0;
}
