# SPDX-License-Identifier: Apache-2.0
# One INTERFACE target carries the language standard, warnings and sanitizer flags, so every
# target opts in by linking it instead of through global flags.
add_library(dstack_options INTERFACE)
target_compile_features(dstack_options INTERFACE cxx_std_20)
# -Wno-mismatched-new-delete: GCC 12 reports a false positive on every Asio coroutine frame in
# optimised builds (Asio allocates frames with its own recycling allocator).
# -Wno-restrict: GCC 12 at -O3 warns inside libstdc++'s std::string (GCC bug 105329).
target_compile_options(dstack_options INTERFACE -Wall -Wextra -Wno-missing-field-initializers
                                                -Wno-mismatched-new-delete
                                                $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
if(DSTACK_WERROR)
  target_compile_options(dstack_options INTERFACE -Werror)
endif()
# -Wno-maybe-uninitialized: GCC 12 at -O1 with the sanitizers reports std::regex's own states as
# maybe uninitialised (tests/integration/leases_test.cpp); the sanitizers check the real thing.
if(DSTACK_SANITIZE)
  target_compile_options(dstack_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                  -fno-sanitize-recover=undefined
                                                  $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  target_link_options(dstack_options INTERFACE -fsanitize=address,undefined)
endif()
# The libFuzzer build (docs/fuzzing.md): every library gets libFuzzer's coverage hooks and ASan
# and UBSan; fuzz/CMakeLists.txt links only the targets with libFuzzer's main (-fsanitize=fuzzer).
# -fno-sanitize=function: clang 14 cannot compile Asio's coroutines with it ("Cannot represent a
# difference across sections").
if(DSTACK_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DSTACK_BUILD_FUZZ needs clang (libFuzzer): configure with "
                        "-DCMAKE_CXX_COMPILER=clang++, as scripts/fuzz does")
  endif()
  target_compile_options(dstack_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                                                  -fno-sanitize=function -fno-omit-frame-pointer
                                                  -fno-sanitize-recover=undefined)
  target_link_options(dstack_options INTERFACE -fsanitize=address,undefined)
endif()
# ThreadSanitizer: sherlock runs its watch, its HAProxy manager and its local API on several
# threads; the suite under TSan reports any data race between them (scripts/test --tsan).
if(DSTACK_TSAN)
  if(DSTACK_SANITIZE OR DSTACK_BUILD_FUZZ)
    message(FATAL_ERROR "DSTACK_TSAN cannot be combined with DSTACK_SANITIZE or DSTACK_BUILD_FUZZ "
                        "(AddressSanitizer): build them apart")
  endif()
  # -Wno-tsan: GCC 12 warns that TSan does not model the fence in Asio's std_fenced_block; the
  # queues that hand handlers between threads are guarded by mutexes, which it does model.
  target_compile_options(dstack_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer
                                                  $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>
                                                  $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
  target_link_options(dstack_options INTERFACE -fsanitize=thread)
endif()
# Agents run on every host: drop code nothing calls (each function and datum in its own section,
# unreferenced sections removed at link time). Measured on watson: about 1 MB less RSS.
if(NOT DSTACK_SANITIZE AND NOT DSTACK_TSAN AND NOT DSTACK_BUILD_FUZZ)
  target_compile_options(dstack_options INTERFACE $<$<NOT:$<CONFIG:Debug>>:-ffunction-sections
                                                  -fdata-sections>)
  target_link_options(dstack_options INTERFACE $<$<NOT:$<CONFIG:Debug>>:-Wl,--gc-sections>)
endif()
# What Debian's dpkg-buildflags give packaged daemons: fortified libc calls, stack protection,
# a read-only GOT resolved at start. Optimised builds only (_FORTIFY_SOURCE needs -O).
if(NOT DSTACK_SANITIZE AND NOT DSTACK_BUILD_FUZZ)
  target_compile_options(dstack_options INTERFACE $<$<NOT:$<CONFIG:Debug>>:-fstack-protector-strong>)
  target_compile_definitions(dstack_options INTERFACE $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
  target_link_options(dstack_options INTERFACE $<$<NOT:$<CONFIG:Debug>>:-Wl,-z,relro,-z,now>)
endif()
