// SPDX-License-Identifier: Apache-2.0
#include "examples/sample_main.hpp"

#include <iostream>

#include "common/core/exit_codes.hpp"
#include "common/core/number.hpp"
#include "common/daemon/daemon.hpp"
#include "common/net/address.hpp"
#include "common/net/http_server.hpp"

namespace dstack::examples {

int run_sample(const SampleMain& sample, int argc, char** argv) {
  CLI::App app{sample.description};
  app.name(sample.service);
  std::string listen = "127.0.0.1:8080", id, version = "1", base, mode_text = "ok",
              delay_text = "2s", errors_text = "0";
  app.add_option("--listen", listen, "address to serve on")->capture_default_str();
  app.add_option("--id", id, "this instance's id (default: the listen address)");
  app.add_option("--version", version, "the version it reports")->capture_default_str();
  app.add_option("--base", base, std::string("base path (default: /") + sample.service + ")");
  app.add_option("--mode", mode_text, "ok, fail, hang or slow (change it later with PUT /mode)")
      ->capture_default_str();
  app.add_option("--delay", delay_text, "how late `slow` answers")->capture_default_str();
  app.add_option("--errors", errors_text, "share of answers that are 503 (0.02 or 2%)")
      ->capture_default_str();
  sample.add_flags(app);
  if (auto code = daemon::parse_command_line(app, argc, argv)) return *code;

  auto usage = [&](const std::string& message) {
    std::cerr << sample.service << ": " << message << "\n";
    return exit_code::usage;
  };
  auto address = net::parse_host_port(listen, 0);
  if (auto* problem = std::get_if<std::string>(&address)) return usage("--listen " + *problem);
  auto mode = parse_mode(mode_text);
  if (!mode) return usage("--mode \"" + mode_text + "\": expected ok, fail, hang or slow");
  auto delay = parse_duration(delay_text);
  if (!delay) return usage("--delay \"" + delay_text + "\": expected a duration like 500ms or 2s");
  auto errors = parse_ratio(errors_text);
  if (!errors)
    return usage("--errors \"" + errors_text + "\": expected a ratio 0..1 or a percent like 2%");
  if (base.empty()) base = std::string("/") + sample.service;
  if (base.front() != '/') return usage("--base \"" + base + "\": must start with '/'");
  if (base.size() > 1 && base.back() == '/') base.pop_back();
  if (id.empty()) id = listen;

  asio::io_context io;
  SampleIdentity identity{sample.service, id, version, base};
  std::shared_ptr<SampleService> service;
  try {
    service = std::make_shared<SampleService>(io.get_executor(), identity,
                                              sample.make_answer(io.get_executor(), identity));
  } catch (const std::invalid_argument& e) {
    return usage(e.what());
  }
  service->set_mode(*mode, *delay, *errors);
  net::ServerLimits limits;
  limits.max_connections = 1000;
  net::HttpServer server(io, limits,
                         [service](net::HttpRequest r) { return service->handle(std::move(r)); });
  const auto& hp = std::get<net::HostPort>(address);
  try {
    server.listen(hp.host, hp.port);
  } catch (const std::system_error& e) {
    std::cerr << sample.service << ": " << e.what() << "\n";
    return exit_code::unavailable;
  }
  daemon::Signals signals(io, [&] {
    server.stop();
    io.stop();
  });
  std::cerr << sample.service << " " << id << " (version " << version << ") serving " << hp.host
            << ":" << server.port() << base << " in mode " << mode_name(*mode) << "\n";
  io.run();
  return 0;
}

}  // namespace dstack::examples
