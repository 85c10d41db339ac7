// SPDX-License-Identifier: Apache-2.0
#include "sherlock/haproxy_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/core/fd.hpp"
#include "common/log/log.hpp"
#include "common/process/run_command.hpp"

namespace dstack::sherlock {
namespace {

std::string trimmed_dir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// HAProxy's refusal, short enough for a log line and /v1/status: its [ALERT] lines.
std::string alerts(const process::CommandResult& r) {
  if (r.timed_out) return "haproxy -c did not finish in time";
  std::istringstream in(r.output);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.find("[ALERT]") == std::string::npos) continue;
    if (!out.empty()) out += " | ";
    out += line;
    if (out.size() > 2000) break;
  }
  if (out.empty()) out = r.output.substr(0, 2000);
  return "haproxy -c refused the config (exit " + std::to_string(r.code) + "): " + out;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& text, bool sync) {
  const std::string tmp = path + ".tmp";
  const Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  if (sync && ::fdatasync(fd.get()) != 0)
    throw std::runtime_error("cannot sync " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
}

void link_atomically(const std::string& from, const std::string& to) {
  const std::string tmp = to + ".tmp";
  ::unlink(tmp.c_str());
  if (::link(from.c_str(), tmp.c_str()) != 0)
    throw std::runtime_error("cannot link " + from + " to " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), to.c_str()) != 0)
    throw std::runtime_error("cannot rename " + tmp + " to " + to + ": " + std::strerror(errno));
}

HaproxyFiles::HaproxyFiles(const SherlockConfig& config)
    : config_(config),
      run_dir_(trimmed_dir(config.haproxy.run_dir)),
      paths_(runtime_paths(config)) {}

void HaproxyFiles::prepare_run_dir() const {
  std::error_code ec;
  std::filesystem::create_directories(run_dir_, ec);
  if (ec) throw std::runtime_error("haproxy.run_dir " + run_dir_ + ": " + ec.message());
  // Sockets with admin rights live here: only sherlock's user may reach them.
  if (::chmod(run_dir_.c_str(), 0700) != 0)
    throw std::runtime_error("haproxy.run_dir " + run_dir_ + ": " + std::strerror(errno));
}

void HaproxyFiles::write_all(const RenderedConfig& r, const RuntimePaths& paths,
                             const std::string& cfg_path) const {
  write_file_atomically(paths.path_map, r.path_map);
  write_file_atomically(paths.host_map, r.host_map);
  write_file_atomically(paths.pin_map, r.pin_map);
  write_file_atomically(cfg_path, r.haproxy_cfg);
}

void HaproxyFiles::use_listener(int fd) {
  if (fd < 0) {
    paths_.proxy_bind = config_.proxy.to_string();
    handed_fds_.clear();
  } else {
    paths_.proxy_bind = "fd@" + std::to_string(fd);
    handed_fds_ = {fd};
  }
}

bool HaproxyFiles::use_loaded_bind() {
  std::ifstream in(config_path());
  std::string line;
  bool in_frontend = false;
  while (std::getline(in, line)) {
    if (line.rfind("frontend ", 0) == 0) in_frontend = line == "frontend fe_proxy";
    constexpr std::string_view kBind = "    bind ";
    if (!in_frontend || line.rfind(kBind, 0) != 0) continue;
    // Only an inherited descriptor needs carrying over; an address is rendered as it is.
    const std::string spec = line.substr(kBind.size());
    if (spec.rfind("fd@", 0) != 0) return false;
    paths_.proxy_bind = spec;
    handed_fds_.clear();  // HAProxy's master holds it; this sherlock does not
    return true;
  }
  return false;
}

awaitable<std::optional<std::string>> HaproxyFiles::validate_only(const Plan& plan) {
  // The copy differs from the real config only in where its maps are: HAProxy opens map files
  // while checking, and the real ones may be in use.
  RuntimePaths check_paths = paths_;
  check_paths.path_map = run_dir_ + "/check-path.map";
  check_paths.host_map = run_dir_ + "/check-host.map";
  check_paths.pin_map = run_dir_ + "/check-pin.map";
  // And in its bind: `haproxy -c` binds nothing, but it does look at a `bind fd@N` descriptor,
  // which this sherlock may not hold (an HAProxy taken over holds it).
  check_paths.proxy_bind = config_.proxy.to_string();
  const std::string cfg = run_dir_ + "/check-haproxy.cfg";
  try {
    write_all(render_haproxy_config(plan, config_, check_paths), check_paths, cfg);
  } catch (const std::exception& e) {
    co_return std::string(e.what());
  }
  auto op = process::run_command({config_.haproxy.binary, "-c", "-f", cfg},
                                 {.timeout = kValidateTimeout});
  process::CommandResult r = co_await std::move(op);
  if (r.code != 0) co_return alerts(r);
  co_return std::nullopt;
}

awaitable<std::optional<std::string>> HaproxyFiles::install(const Plan& plan) {
  auto op = validate_only(plan);
  auto refused = co_await std::move(op);
  if (refused) co_return refused;
  try {
    write_all(render_haproxy_config(plan, config_, paths_), paths_, config_path());
  } catch (const std::exception& e) {
    co_return std::string(e.what());
  }
  co_return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> HaproxyFiles::loaded_links() const {
  return {{paths_.path_map, run_dir_ + "/loaded-path.map"},
          {paths_.host_map, run_dir_ + "/loaded-host.map"},
          {paths_.pin_map, run_dir_ + "/loaded-pin.map"},
          {config_path(), run_dir_ + "/loaded-haproxy.cfg"}};
}

void HaproxyFiles::mark_loaded() {
  // Every install replaces the files by rename, so a link keeps this version's content.
  have_loaded_ = false;
  try {
    for (const auto& [file, loaded] : loaded_links()) link_atomically(file, loaded);
    have_loaded_ = true;
  } catch (const std::exception& e) {
    log::get("haproxy")->warn("{}; a refused reload will leave its files in place", e.what());
  }
}

void HaproxyFiles::restore_loaded() {
  if (!have_loaded_) return;
  for (const auto& [file, loaded] : loaded_links()) link_atomically(loaded, file);  // maps first
}

}  // namespace dstack::sherlock
