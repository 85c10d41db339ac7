// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HAProxy config and maps on disk in run_dir. A new config is validated by `haproxy -c` on
// a copy before anything HAProxy would read is replaced, then written with atomic renames (maps
// first, then haproxy.cfg), so a crash mid-write leaves either the old or the new files. The
// last config that loaded can be put back when a reload fails, so a restarted HAProxy never
// picks up the config it refused.

#include <optional>
#include <string>
#include <vector>

#include "common/core/duration.hpp"
#include "common/net/asio.hpp"
#include "sherlock/haproxy_config.hpp"
#include "sherlock/plan.hpp"
#include "sherlock/sherlock_config.hpp"

namespace dstack::sherlock {

inline constexpr Duration kValidateTimeout = std::chrono::seconds(60);

class HaproxyFiles {
 public:
  explicit HaproxyFiles(const SherlockConfig& config);

  // Creates run_dir (mode 0700). Throws std::runtime_error naming the directory.
  void prepare_run_dir() const;

  // Renders, validates and installs the config for `plan`. nullopt when installed, else why not
  // (HAProxy's [ALERT] lines, or the I/O error); nothing HAProxy reads has changed then.
  awaitable<std::optional<std::string>> install(const Plan& plan);
  // The last installed config has loaded: remember it as good.
  void mark_loaded();
  // Puts the last loaded config back on disk (after a refused reload).
  void restore_loaded();

  // What the proxy frontend binds from now on: `fd`, a socket sherlock holds
  // (proxy_listener.hpp) and hands HAProxy, or -1 for proxy.listen.
  void use_listener(int fd);
  // The frontend's bind of the config HAProxy loaded last (in run_dir): an HAProxy taken over
  // goes on with the socket it has. False when there is none to read.
  bool use_loaded_bind();
  const std::vector<int>& handed_fds() const { return handed_fds_; }

  // `haproxy -c` on a rendered text, without installing anything (for --check-config).
  awaitable<std::optional<std::string>> validate_only(const Plan& plan);

  const RuntimePaths& paths() const { return paths_; }
  std::string config_path() const { return run_dir_ + "/haproxy.cfg"; }
  std::string master_socket() const { return run_dir_ + "/master.sock"; }
  std::string pid_file() const { return run_dir_ + "/haproxy.pid"; }

 private:
  void write_all(const RenderedConfig& rendered, const RuntimePaths& paths,
                 const std::string& cfg_path) const;

  // The files of the config that last loaded, kept as hard links in run_dir rather than in
  // memory (at 10,000 servers the text is over a megabyte).
  std::vector<std::pair<std::string, std::string>> loaded_links() const;

  const SherlockConfig& config_;
  std::string run_dir_;
  RuntimePaths paths_;
  std::vector<int> handed_fds_;
  bool have_loaded_ = false;
};

// Makes `to` another name for `from`'s current content (a hard link, put in place by rename).
// Throws std::runtime_error naming the files.
void link_atomically(const std::string& from, const std::string& to);

// Writes `text` to `path` through a temp file in the same directory and a rename. Throws
// std::runtime_error naming the file.
void write_file_atomically(const std::string& path, const std::string& text, bool sync = false);

}  // namespace dstack::sherlock
