// SPDX-License-Identifier: Apache-2.0
#pragma once
// The walkthrough's emitter (examples/), as a process on a free loopback port: answers JSON
// naming its --id; PUT /mode?set=fail makes it answer 503, set=slow&delay=D answer after D, until
// PUT /mode?set=ok. A test that uses it defines DSTACK_EMITTER_BIN (tests/integration/CMakeLists).

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness.hpp"

namespace dstack::test {

class Emitter {
 public:
  explicit Emitter(const std::string& id) : port_(free_port()) {
    process_ = std::make_unique<Process>(
        std::vector<std::string>{DSTACK_EMITTER_BIN, "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--id", id, "--base", "/"},
        dir_.path());
    if (!poll_until(std::chrono::seconds(10),
                    [&] { return http(port_, "GET", "/mode").status == 200; }))
      throw std::runtime_error("emitter did not start: " + process_->stderr_text());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  // "ok", "fail", "slow&delay=300ms"...: the answer's status.
  int set_mode(const std::string& mode) const {
    return http(port_, "PUT", "/mode?set=" + mode).status;
  }

 private:
  TempDir dir_;
  std::uint16_t port_;
  std::unique_ptr<Process> process_;
};

}  // namespace dstack::test
