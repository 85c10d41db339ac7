// SPDX-License-Identifier: Apache-2.0
#pragma once
// The command line and main loop the sample services share: flags, the server, and an orderly
// exit on SIGTERM or SIGINT.

#include <CLI/CLI.hpp>
#include <functional>

#include "examples/sample_service.hpp"

namespace dstack::examples {

struct SampleMain {
  const char* service;      // "emitter"
  const char* description;  // the first lines of --help
  // Adds the service's own flags.
  std::function<void(CLI::App&)> add_flags;
  // Called once the flags are parsed, on the io thread's executor; throws std::invalid_argument
  // naming a bad flag value.
  std::function<SampleService::Answer(asio::any_io_executor, const SampleIdentity&)> make_answer;
};

int run_sample(const SampleMain& sample, int argc, char** argv);

}  // namespace dstack::examples
