// SPDX-License-Identifier: Apache-2.0
// Linked into the programs only when DSTACK_PORTABLE is ON: the .rpm build, which must run on
// glibc 2.34 (RHEL 9). GCC 12's runtime, linked statically there, was built on Debian 12 against
// glibc 2.36 and calls two functions that 2.34 lacks: libgcc's unwinder finds a frame's unwind
// table with _dl_find_object (2.35), and std::random_device may call arc4random (2.36) when the
// CPU has no RDSEED/RDRAND. cmake/portable.cmake redirects both calls here (-Wl,--wrap), and
// these do the same work with functions glibc 2.34 has. packaging/test-rpm-portability checks
// that no newer symbol is left.

#include <dlfcn.h>
#include <link.h>
#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace {

struct Lookup {
  std::uintptr_t pc;
  dl_find_object* result;
  bool found;
};

// The object whose loaded segments hold `pc`, and its PT_GNU_EH_FRAME (.eh_frame_hdr), which is
// what glibc's _dl_find_object reports as dlfo_eh_frame and all libgcc reads.
int find_object(dl_phdr_info* info, std::size_t, void* data) {
  auto* lookup = static_cast<Lookup*>(data);
  std::uintptr_t start = UINTPTR_MAX;
  std::uintptr_t end = 0;
  void* eh_frame_hdr = nullptr;
  bool contains = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD) {
      if (lo < start) start = lo;
      if (lo + ph.p_memsz > end) end = lo + ph.p_memsz;
      if (lookup->pc >= lo && lookup->pc < lo + ph.p_memsz) contains = true;
    } else if (ph.p_type == PT_GNU_EH_FRAME) {
      eh_frame_hdr = reinterpret_cast<void*>(lo);
    }
  }
  if (!contains) return 0;
  *lookup->result = {};
  lookup->result->dlfo_map_start = reinterpret_cast<void*>(start);
  lookup->result->dlfo_map_end = reinterpret_cast<void*>(end);
  lookup->result->dlfo_eh_frame = eh_frame_hdr;
  lookup->found = true;
  return 1;
}

}  // namespace

// _dl_find_object's contract (0 and `result` filled, or -1), by walking the loaded objects as
// libgcc did itself before glibc 2.35. dlfo_link_map is left null: libgcc does not read it.
extern "C" int __wrap__dl_find_object(void* pc, dl_find_object* result) {
  Lookup lookup{reinterpret_cast<std::uintptr_t>(pc), result, false};
  dl_iterate_phdr(find_object, &lookup);
  return lookup.found ? 0 : -1;
}

// arc4random's contract: 32 random bits, never a failure. getrandom (glibc 2.25) blocks only
// until the kernel's pool is first seeded; like glibc's arc4random, abort if it cannot deliver.
extern "C" std::uint32_t __wrap_arc4random() {
  std::uint32_t value;
  while (getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
    if (errno != EINTR) std::abort();
  }
  return value;
}
