// SPDX-License-Identifier: Apache-2.0
#include "bench/proc_stat.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
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
  // /proc/PID/stat: "PID (COMM) STATE ..." with utime the 14th field; COMM may hold spaces, so
  // the fields are counted from its closing parenthesis (field 2).
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  for (int n = 3; n < 14 && fields >> field; ++n) {
  }
  unsigned long long utime = 0;
  if (!(fields >> utime)) return std::nullopt;
  t.user = static_cast<double>(utime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return t;
}

}  // namespace dstack::bench
