// SPDX-License-Identifier: Apache-2.0
#include "directory/record_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace dstack::directory {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kRefuse = "; refusing to load (move the file away to start empty)";

class StoreCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "dstack.store"; }
  std::string message(int e) const override {
    switch (static_cast<StoreErrc>(e)) {
      case StoreErrc::invalid_record:
        return "record cannot be stored (bad field types, values out of range, invalid UTF-8, "
               "or larger than 1 MiB)";
      case StoreErrc::failed:
        return "store refuses writes after an I/O error it could not undo; restart the "
               "directory";
    }
    return "unknown store error";
  }
};

std::error_code errno_code() {
  return {errno, std::system_category()};
}

[[noreturn]] void throw_errno(const fs::path& path, std::string_view what) {
  throw StoreError(path.string() + ": " + std::string(what) + ": " +
                   std::system_category().message(errno));
}

std::error_code write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_code();
    }
    if (n == 0) return std::make_error_code(std::errc::io_error);  // would loop forever
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::error_code sync_data(int fd) {
  while (::fdatasync(fd) != 0)
    if (errno != EINTR) return errno_code();
  return {};
}

// A directory's fsync makes a created, renamed or deleted entry in it durable.
std::error_code sync_dir(int dir_fd) {
  while (::fsync(dir_fd) != 0)
    if (errno != EINTR) return errno_code();
  return {};
}

std::string read_all(int fd, const fs::path& path) {
  std::string bytes;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, static_cast<off_t>(bytes.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(path, "cannot read");
    if (n == 0) return bytes;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
}

// Creates the data directory 0700 (routes and token digests are not for other local users)
// and makes its entry durable, so a fresh store does not vanish with the first power cut.
void make_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) return;  // a non-directory here fails at open(O_DIRECTORY)
    if (errno != ENOENT) throw_errno(dir, "cannot create directory");
    std::error_code ec;
    fs::create_directories(dir.parent_path(), ec);
    if (ec) throw StoreError(dir.parent_path().string() + ": cannot create: " + ec.message());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      throw_errno(dir, "cannot create directory");
  }
  const fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  const Fd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd) throw_errno(parent, "cannot open directory");
  const std::error_code ec = sync_dir(parent_fd.get());
  if (ec) throw StoreError(parent.string() + ": cannot sync directory: " + ec.message());
}

}  // namespace

const std::error_category& store_category() {
  static const StoreCategory category;
  return category;
}

std::error_code make_error_code(StoreErrc e) {
  return {static_cast<int>(e), store_category()};
}

std::shared_ptr<DataDir> DataDir::open(const fs::path& dir) {
  auto d = std::make_shared<DataDir>(Key{});
  // "a/b/" has an empty filename; without this its parent would be "a/b" itself.
  d->path_ = dir.has_filename() ? dir : dir.parent_path();
  make_dir(d->path_);
  d->fd_.reset(::open(d->path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d->fd_) throw_errno(d->path_, "cannot open directory");
  if (::flock(d->fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      throw StoreError(d->path_.string() + ": data directory is already in use by another process");
    throw_errno(d->path_, "cannot lock directory");
  }
  return d;
}

void DataDir::claim(const std::string& name) {
  if (!claimed_.insert(name).second)
    throw StoreError((path_ / name).string() + ": already open in this process");
}

RecordLog RecordLog::open(std::shared_ptr<DataDir> dir, const std::string& name,
                          record_log::Format format, RecordLogOptions options) {
  dir->claim(name);
  RecordLog log;
  log.file_ = dir->path() / name;
  log.dir_ = std::move(dir);
  log.format_ = std::move(format);
  log.options_ = options;
  log.load();
  return log;
}

void RecordLog::load() {
  // Only compaction writes the .tmp, and it is complete only once renamed away: a leftover
  // one is an interrupted compaction whose source, the log, is still intact.
  const fs::path tmp = file_.string() + ".tmp";
  if (::unlink(tmp.c_str()) == 0)
    recovery_.removed_tmp = true;
  else if (errno != ENOENT)
    throw_errno(tmp, "cannot remove leftover file");

  fd_.reset(::open(file_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd_) throw_errno(file_, "cannot open");
  const std::string bytes = read_all(fd_.get(), file_);
  const record_log::Parsed parsed = record_log::parse(bytes, format_);
  if (parsed.outcome == record_log::Parsed::Outcome::corrupt)
    throw StoreError(file_.string() + ": " + parsed.problem + std::string(kRefuse));

  const std::string_view magic = format_.magic;
  if (parsed.good_end < magic.size()) {
    // New, empty, or a crash while the header was being written: start it over. The
    // directory sync makes a freshly created file's name durable.
    if (::ftruncate(fd_.get(), 0) != 0) throw_errno(file_, "cannot truncate");
    if (const auto ec = write_all(fd_.get(), magic); ec)
      throw StoreError(file_.string() + ": cannot write header: " + ec.message());
    if (const auto ec = sync_data(fd_.get()); ec)
      throw StoreError(file_.string() + ": cannot sync: " + ec.message());
    if (const auto ec = sync_dir(dir_->fd()); ec)
      throw StoreError(dir_->path().string() + ": cannot sync directory: " + ec.message());
    file_size_ = magic.size();
  } else {
    if (parsed.good_end < bytes.size()) {
      // Cut the torn tail now: appending after it would bury it in the middle of the log,
      // where the next open would have to refuse the whole file.
      if (::ftruncate(fd_.get(), static_cast<off_t>(parsed.good_end)) != 0)
        throw_errno(file_, "cannot cut torn tail");
      if (const auto ec = sync_data(fd_.get()); ec)
        throw StoreError(file_.string() + ": cannot sync: " + ec.message());
    }
    file_size_ = parsed.good_end;
  }

  std::string message;
  if (parsed.outcome == record_log::Parsed::Outcome::torn_tail) {
    recovery_.dropped = true;
    recovery_.offset = parsed.good_end;
    recovery_.bytes = parsed.dropped;
    recovery_.reason = parsed.problem;
    message = file_.string() + ": dropped a torn tail of " + std::to_string(parsed.dropped) +
              " bytes at offset " + std::to_string(parsed.good_end) + " (" + parsed.problem +
              "), left by an interrupted write; the records before it are intact";
  }
  if (recovery_.removed_tmp)
    message += (message.empty() ? "" : "; ") + tmp.string() +
               ": removed the leftover of an interrupted compaction";
  recovery_.message = std::move(message);

  for (const auto& record : parsed.records) apply(record.change, record.payload);
  maybe_compact();
}

std::error_code RecordLog::append(std::string_view payload) {
  if (!fd_) return std::make_error_code(std::errc::bad_file_descriptor);  // moved from
  record_log::Change change;
  if (payload.empty() || payload.size() > record_log::kMaxPayload ||
      !format_.read(payload, change, nullptr))
    return StoreErrc::invalid_record;
  if (const auto ec = write_record(record_log::frame(payload))) return ec;
  apply(change, payload);
  maybe_compact();
  return {};
}

std::error_code RecordLog::write_record(const std::string& record) {
  if (!fd_) return std::make_error_code(std::errc::bad_file_descriptor);  // moved from
  if (failed_) return StoreErrc::failed;
  std::error_code ec = write_all(fd_.get(), record);
  // A failed fdatasync may still leave the record in the page cache, to be read back on the
  // next open as if acknowledged: cut it off as well.
  if (!ec) ec = sync_data(fd_.get());
  if (!ec) {
    file_size_ += record.size();
    return {};
  }
  // Undo any fragment so the next record starts at a good offset. If the cut itself fails, an
  // append now could land after garbage: stop writing rather than risk burying acknowledged
  // records behind damage that open() would have to refuse.
  if (::ftruncate(fd_.get(), static_cast<off_t>(file_size_)) != 0 || sync_data(fd_.get()))
    failed_ = true;
  return ec;
}

void RecordLog::apply(const record_log::Change& change, std::string_view payload) {
  if (const auto it = live_.find(change.key); it != live_.end()) {
    live_bytes_ -= record_log::kRecordHeader + it->second.size();
    if (change.remove) {
      live_.erase(it);
      return;
    }
    it->second = payload;
  } else if (change.remove) {
    return;
  } else {
    live_.emplace(change.key, payload);
  }
  live_bytes_ += record_log::kRecordHeader + payload.size();
}

std::uint64_t RecordLog::snapshot_size() const {
  return format_.magic.size() + live_bytes_;
}

void RecordLog::maybe_compact() {
  if (file_size_ <= options_.compact_min_bytes ||
      file_size_ <= options_.compact_ratio * snapshot_size() || file_size_ < compact_retry_at_)
    return;
  compaction_error_ = compact();
  // A full disk would otherwise cost a failed rewrite of the whole set on every write.
  compact_retry_at_ = compaction_error_ ? file_size_ * 2 : 0;
}

std::error_code RecordLog::compact() {
  if (!fd_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (failed_) return StoreErrc::failed;
  std::string data(format_.magic);
  data.reserve(snapshot_size());
  for (const auto& [key, payload] : live_) data += record_log::frame(payload);

  const fs::path tmp = file_.string() + ".tmp";
  Fd tmp_fd(::open(tmp.c_str(), O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!tmp_fd) return errno_code();
  std::error_code ec = write_all(tmp_fd.get(), data);
  if (!ec) ec = sync_data(tmp_fd.get());  // complete on disk before its name can replace the log
  if (!ec && ::rename(tmp.c_str(), file_.c_str()) != 0) ec = errno_code();
  if (ec) {
    ::unlink(tmp.c_str());
    return ec;
  }
  fd_ = std::move(tmp_fd);
  file_size_ = data.size();
  // Until the directory is synced a crash may bring back the old log, and records appended to
  // the new one would vanish with it: if that sync fails, accept no further writes.
  if (const auto dir_ec = sync_dir(dir_->fd())) {
    failed_ = true;
    return dir_ec;
  }
  return {};
}

}  // namespace dstack::directory
