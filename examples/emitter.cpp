// SPDX-License-Identifier: Apache-2.0
// emitter: the walkthrough's sample service. Every answer names the instance, its version and
// how many answers it has given, so round robin and canary splits show in plain curl output.
#include <nlohmann/json.hpp>

#include "examples/sample_main.hpp"

int main(int argc, char** argv) {
  using namespace dstack;
  using namespace dstack::examples;
  SampleMain sample{
      "emitter",
      "emitter: a sample service answering with its instance id, version and a counter.\n\n"
      "  emitter --listen 127.0.0.1:9001 --id vm101 --version 1\n"
      "  curl 127.0.0.1:9001/emitter/    curl -XPUT '127.0.0.1:9001/mode?set=fail'",
      [](CLI::App&) {},
      [](asio::any_io_executor, const SampleIdentity& me) -> SampleService::Answer {
        return [me](net::HttpRequest request, std::uint64_t count) -> awaitable<net::HttpResponse> {
          nlohmann::json j{
              {"service", me.service}, {"id", me.id},
              {"version", me.version}, {"count", count},
              {"path", request.path},  {"message", "hello from " + me.service + " " + me.id}};
          co_return net::HttpResponse{200, "application/json", j.dump() + "\n"};
        };
      }};
  return run_sample(sample, argc, argv);
}
