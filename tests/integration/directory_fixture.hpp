// SPDX-License-Identifier: Apache-2.0
#pragma once
// A real dstack-directory on a free loopback port with its own config and data dir, plus
// shorthands for its API. Start-up failures throw with the daemon's stderr, which GoogleTest
// reports as a test failure.

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

namespace dstack::test {

using nlohmann::json;

struct DirectoryOptions {
  std::string config;             // directory.yaml text (may be empty)
  std::vector<std::string> args;  // extra command-line arguments; "{dir}" is dir().path()
  std::string token;              // sent as a bearer token with every request when set
  std::map<std::string, std::string> files;  // written into dir() before the first start
  bool tls = false;  // readiness by TCP connect: the plain client cannot speak TLS
};

class Directory {
 public:
  explicit Directory(DirectoryOptions options = {});
  ~Directory();

  // Starts the daemon (same port, config and data dir on every start) and waits until it
  // answers /v1/health. Throws with its stderr if it exits or does not answer in time.
  void start();
  void kill9();
  // SIGTERM, and the exit status once it has stopped.
  std::optional<int> stop();
  void restart() {
    stop();
    start();
  }

  std::uint16_t port() const { return port_; }
  const TempDir& dir() const { return dir_; }
  std::filesystem::path config_path() const { return dir_.path() / "directory.yaml"; }
  std::filesystem::path data_dir() const { return dir_.path() / "data"; }
  Process& process() { return *process_; }
  std::vector<std::string> argv() const;  // the command line start() runs

  Response get(const std::string& target) const;
  Response put(const std::string& target, const std::string& body = "") const;
  Response put(const std::string& target, const json& body) const {
    return put(target, body.dump());
  }
  Response put(const std::string& target, const char* body) const {
    return put(target, std::string(body));
  }
  Response post(const std::string& target, const json& body) const;
  Response del(const std::string& target) const;
  Response request(const std::string& method, const std::string& target,
                   const std::string& body = "") const;

  // Shorthands that throw on an unexpected status, for setting up state.
  json snapshot() const;
  std::string grant(int ttl, const std::string& owner = "test");
  void put_instance(const std::string& service, const std::string& id, const std::string& lease,
                    const json& extra = json::object());
  std::uint64_t revision() const;
  std::string epoch() const;
  // One sample from /metrics by its full name; -1 when it is missing.
  double metric(const std::string& name) const;

 private:
  DirectoryOptions options_;
  TempDir dir_;
  std::uint16_t port_;
  std::unique_ptr<Process> process_;
};

// The response body as JSON; a JSON null when it is not JSON.
json body_json(const Response& r);

// The path to the binary under test, from the build.
std::string directory_binary();

}  // namespace dstack::test
