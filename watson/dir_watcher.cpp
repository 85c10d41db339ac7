// SPDX-License-Identifier: Apache-2.0
#include "watson/dir_watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "common/log/log.hpp"

namespace dstack::watson {

namespace {

constexpr auto kQuietPeriod = std::chrono::milliseconds(150);
constexpr auto kRetryPeriod = std::chrono::seconds(2);
constexpr std::uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                  IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

int open_inotify() {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
  return fd;
}

}  // namespace

DirWatcher::DirWatcher(asio::io_context& io, std::string dir, std::function<void()> on_change)
    : dir_(std::move(dir)),
      on_change_(std::move(on_change)),
      fd_(io, open_inotify()),
      quiet_(io),
      retry_(io) {
  try_watch();
  read_events();
}

DirWatcher::~DirWatcher() {
  error_code ec;
  fd_.close(ec);
}

void DirWatcher::try_watch() {
  wd_ = ::inotify_add_watch(fd_.native_handle(), dir_.c_str(), kEvents | IN_ONLYDIR);
  if (wd_ >= 0) return;
  log::get("watson")->warn("cannot watch {} ({}); SIGHUP reloads it, and watching is retried", dir_,
                           std::strerror(errno));
  try_watch_later();
}

void DirWatcher::try_watch_later() {
  retry_.expires_after(kRetryPeriod);
  retry_.async_wait([this](error_code ec) {
    if (ec) return;
    wd_ = ::inotify_add_watch(fd_.native_handle(), dir_.c_str(), kEvents | IN_ONLYDIR);
    if (wd_ >= 0) {
      log::get("watson")->info("watching {} for changes", dir_);
      changed();
    } else {
      try_watch_later();
    }
  });
}

void DirWatcher::read_events() {
  fd_.async_wait(asio::posix::stream_descriptor::wait_read, [this](error_code ec) {
    if (ec) return;
    bool lost = false;
    for (;;) {
      ssize_t n = ::read(fd_.native_handle(), buffer_, sizeof buffer_);
      if (n <= 0) break;  // EAGAIN: drained
      for (ssize_t at = 0; at < n;) {
        auto* ev = reinterpret_cast<const inotify_event*>(buffer_ + at);
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) lost = true;
        at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
    if (lost && wd_ >= 0) {
      ::inotify_rm_watch(fd_.native_handle(), wd_);  // may fail: the kernel dropped it already
      wd_ = -1;
      try_watch_later();
    }
    changed();
    read_events();
  });
}

void DirWatcher::changed() {
  quiet_.expires_after(kQuietPeriod);
  quiet_.async_wait([this](error_code ec) {
    if (!ec && on_change_) on_change_();
  });
}

}  // namespace dstack::watson
