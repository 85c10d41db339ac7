// SPDX-License-Identifier: Apache-2.0
// sherlock's command line: flags over sherlock.yaml, --check-config, --render, or the daemon.
#include "sherlock/cli.hpp"

#include <malloc.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "common/core/exit_codes.hpp"
#include "common/daemon/daemon.hpp"
#include "common/log/log.hpp"
#include "sherlock/daemon.hpp"
#include "sherlock/sherlock_config.hpp"

namespace dstack::sherlock {
namespace {

// sherlock holds a large view and renders a config of a megabyte or more at 10,000 instances, so
// glibc's defaults cost it more memory than it uses: a second arena for the thread that saves the
// view (which malloc_trim cannot shrink), and a mmap threshold that rises to the size of the last
// large block freed, after which every rendered config stays in the heap. One arena and a fixed
// threshold keep RSS near the live heap (bench/sherlock_bench: 23 MiB -> 15 MiB).
void keep_heap_small() {
  ::mallopt(M_ARENA_MAX, 1);
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  ::mallopt(M_TRIM_THRESHOLD, 128 * 1024);
}

}  // namespace

int main(int argc, char** argv) {
  keep_heap_small();
  // Taken before anything can change the working directory: what a handover execs.
  const auto self = self_command(argc, argv);
  CLI::App app{
      "sherlock: follows the directory and drives a local HAProxy, so clients reach a healthy "
      "instance of any service at http://localhost:8000/<service>/.\n\n"
      "  sherlock [-c FILE] [-d DIR] [--proxy-port PORT]\n"
      "  sherlock -d //services/directory        (the seed form: host services, port 7400)\n"};
  app.name("sherlock");
  std::string config_path = kDefaultConfigPath;
  SherlockOverrides flags;
  bool check_only = false, render = false;
  auto* config_opt =
      app.add_option("-c,--config", config_path, "sherlock.yaml to read")->type_name("FILE");
  app.add_option("-d,--directory", flags.directories,
                 "directory to follow (repeatable, in failover order; replaces `directories`)")
      ->type_name("DIR")
      ->allow_extra_args(false);
  app.add_option("--proxy-port", flags.proxy_port, "the proxy's port (overrides proxy.listen's)")
      ->type_name("PORT");
  app.add_option("--log-level", flags.log_level,
                 "trace, debug, info, warn, error (overrides log_level)")
      ->type_name("LEVEL");
  app.add_flag("--check-config", check_only,
               "validate sherlock.yaml (and the HAProxy settings with haproxy -c) and exit: 0 "
               "when valid, 78 otherwise");
  app.add_flag("--render", render,
               "print the HAProxy config sherlock would run now (from the directory, else the "
               "saved view) and exit");
  if (auto code = daemon::parse_command_line(app, argc, argv)) return *code;
  if (check_only && render) {
    std::cerr << "sherlock: --check-config and --render are separate modes; pick one\n";
    return exit_code::usage;
  }

  return daemon::run_main("sherlock", [&] {
    auto cfg = load_sherlock_config(config_path, config_opt->count() > 0);
    apply_overrides(cfg, flags);
    if (check_only) {
      daemon::report_config_file(config_path);
      return check_with_haproxy(cfg);
    }
    log::setup(*log::parse_level(cfg.log_level));
    if (render) return render_now(cfg);
    return run_daemon(cfg, self);
  });
}

}  // namespace dstack::sherlock
