// SPDX-License-Identifier: Apache-2.0
#include "bench/proc_stat.hpp"

#include <filesystem>
#include <fstream>
#include <string>

namespace dstack::bench {

std::optional<CpuTimes> cpu_times(int pid) {
  if (pid <= 0) return std::nullopt;
  std::error_code ec;
  std::filesystem::directory_iterator tasks("/proc/" + std::to_string(pid) + "/task", ec);
  if (ec) return std::nullopt;
  CpuTimes t;
  bool any = false;
  for (const auto& task : tasks) {
    std::ifstream file(task.path() / "schedstat");
    unsigned long long ran_ns = 0, waited_ns = 0;
    if (!(file >> ran_ns >> waited_ns)) continue;  // a thread that just ended
    t.ran += static_cast<double>(ran_ns) / 1e9;
    t.waited += static_cast<double>(waited_ns) / 1e9;
    any = true;
  }
  if (!any) return std::nullopt;
  return t;
}

}  // namespace dstack::bench
