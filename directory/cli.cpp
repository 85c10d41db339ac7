// SPDX-License-Identifier: Apache-2.0
// dstack-directory's command line: flags over directory.yaml, --check-config, then the server.
#include "directory/cli.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/core/exit_codes.hpp"
#include "common/daemon/daemon.hpp"
#include "common/log/log.hpp"
#include "directory/server.hpp"

namespace dstack::directory {

int main(int argc, char** argv) {
  CLI::App app{"dstack-directory: leases, instances, routes and the watch stream"};
  std::string config_path = "/etc/datawire/directory.yaml", listen, data_dir, token_file, level;
  Identity id;
  bool check_only = false;
  auto* config_opt = app.add_option("-c,--config", config_path, "directory.yaml to read");
  app.add_option("--listen", listen, "host:port to serve on (overrides listen)");
  app.add_option("--data-dir", data_dir, "where routes are kept (overrides data_dir)");
  app.add_option("--token-file", token_file, "the admin token (overrides token_file)");
  app.add_option("--log-level", level, "trace, debug, info, warn, error (overrides log_level)");
  app.add_option("-n,--name", id.name, "this directory's name, reported by /v1/health");
  app.add_option("-a,--address", id.advertise, "the address clients use, reported by /v1/health");
  app.add_flag("--check-config", check_only, "validate the configuration and exit (0 or 78)");
  if (auto code = daemon::parse_command_line(app, argc, argv)) return *code;

  return daemon::run_main("dstack-directory", [&] {
    auto cfg = load_config(config_path, config_opt->count() > 0, token_file);
    apply_overrides(cfg, listen, data_dir, token_file, level);
    if (check_only) {
      daemon::report_config_file(config_path);
      return exit_code::ok;
    }
    log::setup(*log::parse_level(cfg.log_level));
    return run(cfg, id);
  });
}

}  // namespace dstack::directory
