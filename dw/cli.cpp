// SPDX-License-Identifier: Apache-2.0
#include "dw/cli.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <map>

#include "common/config/checks.hpp"
#include "common/core/exit_codes.hpp"
#include "common/daemon/daemon.hpp"
#include "common/net/tls.hpp"
#include "common/registry/directory_client.hpp"
#include "dw/commands.hpp"
#include "dw/rollout_text.hpp"

namespace dstack::dw {

namespace {

struct Args {
  std::string directory, token_file, ca_file, cert, key, service, consumer, version_arg, percent;
  std::vector<std::string> targets, policies;
  std::string token_name, ttl, window;
  bool once = false;
  PolicyFlags policy;
  RolloutFlags rollout;
  bool json = false;
};

// Runs one command coroutine to completion; what it left running (dw top's refresher) ends with
// it.
int run_command(asio::io_context& io, std::function<awaitable<int>(registry::Registry&)> command,
                std::unique_ptr<registry::Registry> reg) {
  int code = exit_code::failure;
  asio::co_spawn(io, command(*reg), [&](std::exception_ptr e, int result) {
    if (e) std::rethrow_exception(e);
    code = result;
    io.stop();
  });
  io.run();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dw: see services, shift traffic, watch the directory"};
  app.require_subcommand(1);
  app.fallthrough();
  Args a;
  app.add_option("-d,--directory", a.directory, "directory address (else $DSTACK_DIRECTORY)");
  app.add_option("--token-file", a.token_file, "bearer token (else $DSTACK_TOKEN_FILE)");
  app.add_option("--ca-file", a.ca_file,
                 "CA bundle for an https:// or etcds:// directory (else system CAs)");
  auto* cert = app.add_option("--cert", a.cert,
                              "client certificate (PEM) for an https:// or etcds:// directory");
  auto* key = app.add_option("--key", a.key, "the client certificate's private key (PEM)");
  cert->needs(key);
  key->needs(cert);
  app.add_flag("--json", a.json, "machine-readable output");

  auto* services = app.add_subcommand("services", "list services");
  auto* instances = app.add_subcommand("instances", "list one service's instances");
  instances->add_option("SERVICE", a.service)->required();
  auto* route =
      app.add_subcommand("route", "list, set, roll back and remove routes")->require_subcommand(1);
  auto* list = route->add_subcommand("list", "list routes");
  list->add_option("SERVICE", a.service);
  auto* set = route->add_subcommand("set", "set a service's route: VERSION=PCT...");
  set->add_option("SERVICE", a.service)->required();
  set->add_option("TARGETS", a.targets, "VERSION=PCT pairs")->required();
  set->add_option("--consumer", a.consumer, "only for this consumer");
  auto* add = route->add_subcommand("add", "seed form: //CONSUMER //SERVICE(VERSION) PCT%");
  add->add_option("CONSUMER", a.consumer)->required();
  add->add_option("SERVICE_VERSION", a.version_arg)->required();
  add->add_option("PERCENT", a.percent)->required();
  auto* rollback =
      route->add_subcommand("rollback", "put back what the route's last change replaced");
  rollback->add_option("SERVICE", a.service)->required();
  rollback->add_option("--consumer", a.consumer, "the consumer's route instead of everyone's");
  auto* rm = route->add_subcommand("rm", "remove a route");
  rm->add_option("SERVICE", a.service)->required();
  rm->add_option("--consumer", a.consumer, "the consumer's route instead of everyone's");
  auto* policy =
      app.add_subcommand("policy", "set, show and remove traffic policies")->require_subcommand(1);
  auto* policy_set = policy->add_subcommand("set", "set a service's whole traffic policy");
  policy_set->add_option("SERVICE", a.service)->required();
  auto& pf = a.policy;
  policy_set->add_option("--retries", pf.retries, "retries after the first try (0..10)");
  policy_set->add_option("--retry-on", pf.retry_on, "conditions: conn-failure,503,...");
  policy_set->add_option("--timeout", pf.timeout, "how long an instance may be silent (5s)");
  policy_set->add_option("--max-conn", pf.max_conn, "concurrent requests per instance");
  policy_set->add_option("--queue-timeout", pf.queue_timeout, "wait for a free slot, then 503");
  policy_set->add_option("--eject", pf.eject, "5xx:N: out of rotation after N 5xx in a row");
  policy_set->add_option("--balance", pf.balance,
                         "roundrobin, leastconn, hash:header:NAME or hash:cookie:NAME");
  auto* policy_show = policy->add_subcommand("show", "show one service's policy, or all");
  policy_show->add_option("SERVICE", a.service);
  auto* policy_rm = policy->add_subcommand("rm", "remove a service's policy");
  policy_rm->add_option("SERVICE", a.service)->required();
  auto* rollout = app.add_subcommand("rollout", "start, follow and steer progressive rollouts")
                      ->require_subcommand(1);
  auto* rollout_start = rollout->add_subcommand(
      "start", "move a service's traffic to a version step by step, judging each step");
  rollout_start->add_option("SERVICE", a.service)->required();
  auto& rf = a.rollout;
  rollout_start->add_option("--to", rf.to, "the new version")->required();
  rollout_start->add_option("--from", rf.from, "the stable version (else the route's)");
  rollout_start->add_option("--steps", rf.steps, "the new version's percents (5,25,50,100)");
  rollout_start->add_option("--interval", rf.interval, "how long each step runs (1m)");
  rollout_start->add_option("--max-error-ratio", rf.max_error_ratio, "abort above (1%)");
  rollout_start->add_option("--max-p99", rf.max_p99, "abort when the p99 is above (none)");
  rollout_start->add_option("--max-p99-ratio", rf.max_p99_ratio,
                            "abort when the p99 is above this times the stable version's");
  rollout_start->add_option("--min-requests", rf.min_requests,
                            "judge a step only on this many of its requests (200)");
  rollout_start->add_option("--consumer", rf.consumer, "only this consumer's route");
  auto* rollout_status = rollout->add_subcommand("status", "a rollout's steps, figures and next");
  rollout_status->add_option("SERVICE", a.service)->required();
  std::vector<std::pair<CLI::App*, std::string>> rollout_commands;
  for (const char* name : {"pause", "resume", "promote", "abort"}) {
    static const std::map<std::string, std::string> help{
        {"pause", "stop judging and moving; the route stays"},
        {"resume", "set the step's route again and judge a new interval"},
        {"promote", "send everything to the new version now"},
        {"abort", "send everything back to the stable version now"}};
    auto* sub = rollout->add_subcommand(name, help.at(name));
    sub->add_option("SERVICE", a.service)->required();
    rollout_commands.emplace_back(sub, name);
  }
  auto* rollout_list = rollout->add_subcommand("list", "every rollout and its phase");
  auto* token = app.add_subcommand("token", "create, list and revoke the directory's tokens")
                    ->require_subcommand(1);
  auto* token_create = token->add_subcommand("create", "create a token and print its secret once");
  token_create->add_option("NAME", a.token_name)->required();
  token_create
      ->add_option("--policy", a.policies, "read, report, admin, register:GLOB, routes:GLOB")
      ->required();
  token_create->add_option("--ttl", a.ttl, "expire after this long (12h, 30d); default never");
  auto* token_list = token->add_subcommand("list", "list tokens (never their secrets)");
  auto* token_revoke = token->add_subcommand("revoke", "revoke a token; effective at once");
  token_revoke->add_option("NAME", a.token_name)->required();
  auto* top = app.add_subcommand("top", "live traffic per service and version (q quits)");
  top->add_option("--window", a.window, "figures over this long (default 1m)");
  top->add_flag("--once", a.once, "print one table and exit");
  auto* traffic = app.add_subcommand("traffic", "one service's traffic per version and consumer");
  traffic->add_option("SERVICE", a.service)->required();
  traffic->add_option("--window", a.window, "figures over this long (default: the directory's)");
  auto* consumers = app.add_subcommand("consumers", "the sherlocks that report to the directory");
  auto* watch = app.add_subcommand("watch", "print changes as they happen");
  auto* status = app.add_subcommand("status", "the directory's health and counts");
  if (auto code = daemon::parse_command_line(app, argc, argv)) return *code;

  auto address =
      registry::parse_directory_address(registry::choose_directory_address(a.directory, ""));
  if (auto* why = std::get_if<std::string>(&address)) {
    std::cerr << "dw: " << *why << '\n';
    return exit_code::usage;
  }
  if (a.token_file.empty())
    if (const char* env = std::getenv("DSTACK_TOKEN_FILE")) a.token_file = env;
  asio::io_context io(1);
  std::unique_ptr<registry::Registry> reg;
  try {
    std::string token;
    if (!a.token_file.empty())
      if (auto why = config::read_token(a.token_file, token))
        throw std::runtime_error("token file " + *why);
    if (!a.cert.empty())  // fails here, naming the file, rather than at every request
      net::make_client_context(net::ClientTls{a.ca_file, true, a.cert, a.key});
    const auto settings = registry::client_settings(token, a.ca_file, a.cert, a.key);
    reg = registry::make_registry(io.get_executor(), std::get<registry::DirectoryAddress>(address),
                                  settings);
  } catch (const std::exception& e) {
    std::cerr << "dw: " << e.what() << '\n';
    return exit_code::usage;
  }

  Output o{std::cout, std::cerr, a.json};
  std::function<awaitable<int>(registry::Registry&)> command;
  if (*services) command = [o](registry::Registry& r) { return dw::services(r, o); };
  if (*instances)
    command = [o, a](registry::Registry& r) { return dw::instances(r, o, a.service); };
  if (*list) command = [o, a](registry::Registry& r) { return route_list(r, o, a.service); };
  if (*set)
    command = [o, a](registry::Registry& r) {
      return route_set(r, o, a.service, a.consumer, a.targets);
    };
  if (*add)
    command = [o, a](registry::Registry& r) {
      return route_add(r, o, a.consumer, a.version_arg, a.percent);
    };
  if (*rollback)
    command = [o, a](registry::Registry& r) { return route_rollback(r, o, a.service, a.consumer); };
  if (*rm)
    command = [o, a](registry::Registry& r) { return route_rm(r, o, a.service, a.consumer); };
  if (*policy_set)
    command = [o, a](registry::Registry& r) { return dw::policy_set(r, o, a.service, a.policy); };
  if (*policy_show)
    command = [o, a](registry::Registry& r) { return dw::policy_show(r, o, a.service); };
  if (*policy_rm)
    command = [o, a](registry::Registry& r) { return dw::policy_rm(r, o, a.service); };
  if (*rollout_start)
    command = [o, a](registry::Registry& r) {
      return dw::rollout_start(r, o, a.service, a.rollout);
    };
  if (*rollout_status)
    command = [o, a](registry::Registry& r) { return dw::rollout_status(r, o, a.service); };
  for (const auto& [sub, name] : rollout_commands)
    if (*sub)
      command = [o, a, name](registry::Registry& r) {
        return dw::rollout_command(r, o, a.service, name);
      };
  if (*rollout_list) command = [o](registry::Registry& r) { return dw::rollout_list(r, o); };
  if (*token_create)
    command = [o, a](registry::Registry& r) {
      return dw::token_create(r, o, a.token_name, a.policies, a.ttl);
    };
  if (*token_list) command = [o](registry::Registry& r) { return dw::token_list(r, o); };
  if (*token_revoke)
    command = [o, a](registry::Registry& r) { return dw::token_revoke(r, o, a.token_name); };
  if (*top) command = [o, a](registry::Registry& r) { return dw::top(r, o, a.window, a.once); };
  if (*traffic)
    command = [o, a](registry::Registry& r) { return dw::traffic(r, o, a.service, a.window); };
  if (*consumers) command = [o](registry::Registry& r) { return dw::consumers(r, o); };
  if (*watch) command = [o](registry::Registry& r) { return dw::watch(r, o); };
  if (*status) command = [o](registry::Registry& r) { return dw::status(r, o); };
  return run_command(io, command, std::move(reg));
}

}  // namespace dstack::dw
