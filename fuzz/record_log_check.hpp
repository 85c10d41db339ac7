// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the fuzz targets of the directory's record logs share (route_log, token_log;
// directory/record_log_format.hpp): a scratch data directory, the input with its checksums made
// right so mutated payloads reach the reader, and the framing properties every parse must have.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "directory/record_log_format.hpp"
#include "fuzz/fuzz.hpp"

namespace dstack::fuzz {

// A data directory removed at exit, under TMPDIR (scripts/fuzz points it at a tmpfs, where
// fdatasync costs nothing). A plain array, not a std::string: it must outlive the static
// destructors that run before the atexit handler.
inline const char* scratch_dir() {
  static char scratch[4096];
  if (scratch[0] == '\0') {
    const auto pattern = std::filesystem::temp_directory_path() / "dstack-record-log-fuzz.XXXXXX";
    std::snprintf(scratch, sizeof scratch, "%s", pattern.c_str());
    if (!::mkdtemp(scratch)) std::abort();
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch, ignored);
    });
  }
  return scratch;
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// `file` with the checksum of every record whose length fits made right, record by record.
inline std::string with_checksums(std::string file, std::size_t magic_size) {
  using directory::record_log::kRecordHeader;
  std::uint64_t at = magic_size;
  while (at + kRecordHeader <= file.size()) {
    std::uint32_t length = 0;
    for (int i = 3; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(file[at + i]);
    if (length == 0 || length > file.size() - at - kRecordHeader) break;
    const std::uint32_t crc =
        directory::record_log::crc32(std::string_view(file).substr(at + kRecordHeader, length));
    for (int i = 0; i < 4; ++i) file[at + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xffu);
    at += kRecordHeader + length;
  }
  return file;
}

// The records tile the file from the header to good_end; a torn tail is what is left after
// them; a corrupt file says why. Each record's payload is then the caller's to check.
inline void check_framing(std::string_view file, const directory::record_log::Parsed& p,
                          std::size_t magic_size) {
  using Outcome = directory::record_log::Parsed::Outcome;
  if (p.outcome == Outcome::corrupt) {
    FUZZ_CHECK(!p.problem.empty());
    return;
  }
  std::uint64_t at = p.records.empty() && p.good_end < magic_size ? 0 : magic_size;
  for (const auto& record : p.records) {
    FUZZ_CHECK(record.offset == at);
    FUZZ_CHECK(record.size == directory::record_log::kRecordHeader + record.payload.size());
    at += record.size;
  }
  FUZZ_CHECK(p.good_end == at);
  if (p.outcome == Outcome::clean) FUZZ_CHECK(p.good_end == file.size() || file.empty());
  if (p.outcome == Outcome::torn_tail) FUZZ_CHECK(p.good_end + p.dropped == file.size());
}

}  // namespace dstack::fuzz
