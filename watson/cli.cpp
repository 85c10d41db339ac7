// SPDX-License-Identifier: Apache-2.0
// watson's command line: the daemon, quick mode, --check-config and `watson maint`.
#include "watson/cli.hpp"

#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>

#include "common/config/reader.hpp"
#include "common/core/exit_codes.hpp"
#include "common/daemon/daemon.hpp"
#include "common/log/log.hpp"
#include "watson/daemon.hpp"
#include "watson/maint_command.hpp"
#include "watson/service_config.hpp"
#include "watson/watson_config.hpp"

namespace dstack::watson {
namespace {

// `watson maint SERVICE on|off [--reason TEXT]`. Parsed apart from the daemon's command line so
// that quick mode's positional SERVICE can never be mistaken for it.
int maint_main(int argc, char** argv) {
  CLI::App app{"watson maint: drain (on) or restore (off) every instance of a service"};
  app.name("watson maint");
  std::string service, state, reason, api, config_path = kDefaultConfigPath;
  app.add_option("SERVICE", service, "the service, as registered (or //host/.../service)")
      ->required();
  app.add_option("STATE", state, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
  app.add_option("--reason", reason, "why, shown in watson's status (at most 256 characters)");
  auto* config_opt =
      app.add_option("-c,--config", config_path, "watson.yaml, to find watson's local API");
  app.add_option("--api", api, "watson's local API, host:port (default: listen from the config)");
  if (auto code = daemon::parse_command_line(app, argc, argv)) return *code;

  return daemon::run_main("watson maint", [&] {
    if (service.rfind("//", 0) == 0) service = service.substr(service.rfind('/') + 1);
    auto cfg = load_watson_config(config_path, config_opt->count() > 0);
    if (!api.empty()) {
      auto parsed = net::parse_host_port(api, kDefaultListenPort);
      if (auto* why = std::get_if<std::string>(&parsed)) {
        std::cerr << "watson maint: --api: " << *why << "\n";
        return exit_code::usage;
      }
      cfg.listen = std::get<net::HostPort>(parsed);
    }
    return run_maint(cfg.listen, service, state == "on", reason);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "maint") == 0) return maint_main(argc - 1, argv + 1);

  CLI::App app{
      "watson: health-checks this host's services and registers the healthy ones with the "
      "directory.\n\n"
      "  watson [-c FILE] [options]                      services from services_dir\n"
      "  watson -d DIR SERVICE URL [INTERVAL] [options]  quick mode: one service\n"
      "  watson maint SERVICE on|off [--reason TEXT]     drain or restore a service\n"};
  app.name("watson");
  std::string config_path = kDefaultConfigPath, check_url;
  WatsonOverrides flags;
  bool check_only = false;
  auto* config_opt =
      app.add_option("-c,--config", config_path, "watson.yaml to read")->type_name("FILE");
  app.add_option("-d,--directory", flags.directories,
                 "directory to register with (repeatable; replaces `directories`)")
      ->type_name("DIR")
      ->allow_extra_args(false);  // `-d DIR SERVICE URL`: one address per -d
  std::string quick_service, quick_url, quick_interval;
  app.add_option("SERVICE", quick_service,
                 "quick mode: the service to register (a name, or //host/.../name)");
  app.add_option("URL", quick_url, "quick mode: the URL consumers are sent to");
  app.add_option("INTERVAL", quick_interval,
                 "quick mode: seconds between checks, or a duration like 500ms (default 3)");
  app.add_option("--check", check_url,
                 "quick mode: the URL to check (default URL/liveness_check; tcp:// URLs are "
                 "connected to)")
      ->type_name("URL");
  std::string quick_protocol;
  app.add_option("--protocol", quick_protocol,
                 "quick mode: http, http2, grpc or tcp (default: what URL says)")
      ->type_name("PROTOCOL");
  app.add_option("--listen", flags.listen, "local API host:port (overrides listen)")
      ->type_name("HOST:PORT");
  app.add_option("--token-file", flags.token_file,
                 "bearer token for the directory (overrides token_file)")
      ->type_name("FILE");
  app.add_option("--log-level", flags.log_level,
                 "trace, debug, info, warn, error (overrides log_level)")
      ->type_name("LEVEL");
  app.add_flag("--check-config", check_only,
               "validate watson.yaml and every service file (or the quick-mode arguments) and "
               "exit: 0 when all are valid, 78 otherwise");
  if (auto code = daemon::parse_command_line(app, argc, argv)) return *code;
  if (!quick_service.empty() && quick_url.empty()) {
    std::cerr << "watson: quick mode needs SERVICE and URL (and optionally INTERVAL); see "
                 "--help\n";
    return exit_code::usage;
  }
  if (!quick_protocol.empty() && quick_service.empty()) {
    std::cerr << "watson: --protocol is for quick mode (watson -d DIR SERVICE URL --protocol P)\n";
    return exit_code::usage;
  }
  if (!check_url.empty() && quick_service.empty()) {
    std::cerr << "watson: --check is for quick mode (watson -d DIR SERVICE URL --check URL)\n";
    return exit_code::usage;
  }

  return daemon::run_main("watson", [&] {
    auto cfg = load_watson_config(config_path, config_opt->count() > 0);
    apply_overrides(cfg, flags);
    RunOptions options;
    if (!quick_service.empty()) {
      options.quick = watson::quick_service(quick_service, quick_url, quick_interval, check_url,
                                            quick_protocol);
      // The seed ran one quick-mode watson per service: only an asked-for address must bind.
      options.listen_required = !flags.listen.empty();
    }
    if (check_only) {
      daemon::report_config_file(config_path);
      if (options.quick) {
        std::cout << "quick mode: " << options.quick->service << " " << options.quick->url
                  << ": ok\n";
        return exit_code::ok;
      }
      auto files = load_services_dir(cfg.services_dir, {});
      if (!files.problems.empty()) throw config::ConfigError(files.problems);
      std::cout << cfg.services_dir << ": " << files.definitions.size() << " service file(s) ok\n";
      return exit_code::ok;
    }
    log::setup(*log::parse_level(cfg.log_level));
    return run_daemon(cfg, options);
  });
}

}  // namespace dstack::watson
