// SPDX-License-Identifier: Apache-2.0
// transform: the walkthrough's second tier. It consumes emitter through its host's sherlock and
// is itself consumed through sherlock: a two-step microservice pipeline.
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/model/url.hpp"
#include "common/net/http_client.hpp"
#include "examples/sample_main.hpp"

namespace {

using namespace dstack;
using namespace dstack::examples;

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

net::HttpResponse upstream_failed(const std::string& upstream, const std::string& why) {
  nlohmann::json j{{"error", "upstream"}, {"message", upstream + ": " + why}};
  return {502, "application/json", j.dump() + "\n"};
}

}  // namespace

int main(int argc, char** argv) {
  std::string upstream = "http://127.0.0.1:8000/emitter";
  SampleMain sample{
      "transform",
      "transform: a sample service that asks emitter (through the local sherlock) and returns "
      "its answer transformed.\n\n"
      "  transform --listen 127.0.0.1:9101 --upstream http://127.0.0.1:8000/emitter",
      [&](CLI::App& app) {
        app.add_option("--upstream", upstream, "where emitter is asked, usually through sherlock")
            ->capture_default_str();
      },
      [&](asio::any_io_executor, const SampleIdentity& me) -> SampleService::Answer {
        auto parsed = model::parse_instance_url(upstream, "--upstream");
        auto* url = std::get_if<model::InstanceUrl>(&parsed);
        if (!url || url->scheme != "http")
          throw std::invalid_argument(url ? "--upstream must be an http:// URL"
                                          : std::get<std::string>(parsed));
        return [me, u = *url, upstream](net::HttpRequest,
                                        std::uint64_t count) -> awaitable<net::HttpResponse> {
          net::ClientOptions options;
          options.connect_timeout = std::chrono::seconds(2);
          options.request_timeout = std::chrono::seconds(5);
          options.max_body = 1 << 20;
          net::HttpClient client(co_await asio::this_coro::executor, u.host, u.port, options);
          auto call = client.request("GET", u.path + "/");
          auto got = co_await std::move(call);
          if (!got) co_return upstream_failed(upstream, got.error().message);
          if (got->status != 200)
            co_return upstream_failed(upstream, "answered " + std::to_string(got->status));
          auto answer = nlohmann::json::parse(got->body, nullptr, /*allow_exceptions=*/false);
          if (!answer.is_object() || !answer.contains("message") || !answer["message"].is_string())
            co_return upstream_failed(upstream, "answered without a message");
          nlohmann::json j{{"service", me.service},
                           {"id", me.id},
                           {"version", me.version},
                           {"count", count},
                           {"result", upper(answer["message"].get<std::string>())},
                           {"from", answer}};
          co_return net::HttpResponse{200, "application/json", j.dump() + "\n"};
        };
      }};
  return run_sample(sample, argc, argv);
}
