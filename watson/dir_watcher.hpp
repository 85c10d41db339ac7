// SPDX-License-Identifier: Apache-2.0
#pragma once
// Calls back when files in a directory are created, written, moved or removed (inotify), after
// a short quiet period so an editor's save (write temp, rename, chmod) is one reload, not three.
// If the directory cannot be watched (missing, removed, recreated), it tries again every few
// seconds and calls back once it can, so a services_dir created after start is picked up.

#include <sys/inotify.h>

#include <functional>
#include <string>

#include "common/net/asio.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>

namespace dstack::watson {

class DirWatcher {
 public:
  DirWatcher(asio::io_context& io, std::string dir, std::function<void()> on_change);
  ~DirWatcher();
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

 private:
  void try_watch();
  void try_watch_later();
  void read_events();
  void changed();

  std::string dir_;
  std::function<void()> on_change_;
  asio::posix::stream_descriptor fd_;
  asio::steady_timer quiet_;
  asio::steady_timer retry_;
  int wd_ = -1;
  alignas(struct inotify_event) char buffer_[4096];
};

}  // namespace dstack::watson
