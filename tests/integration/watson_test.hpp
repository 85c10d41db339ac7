// SPDX-License-Identifier: Apache-2.0
#pragma once
// What watson's integration tests share: service files written from a few knobs, the directory
// as the tests look at it (an instance, the next watch event), and a GoogleTest fixture that runs
// a directory and the watsons a test starts, and reports on them when the test fails.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "directory_fixture.hpp"
#include "test_service.hpp"
#include "watson_fixture.hpp"

namespace dstack::test {

inline std::string url_of(const Directory& d) {
  return "http://127.0.0.1:" + std::to_string(d.port());
}
// The default instance id of a service at `s` ("<host>:<port>" of its url).
inline std::string id_of(const TestService& s) {
  return "127.0.0.1:" + std::to_string(s.port());
}

struct Tuning {
  int rise = 1;
  int fall = 2;  // one slow check on a loaded machine is not a failure
  std::string interval = "150ms";
  std::string timeout = "150ms";  // at most the interval
  std::string drain = "0s";
  std::string extra;  // more top-level keys, placed on line 3
};

// A service file: `name` at s.url("/name"), checked by GET s.url("/name/health").
std::string http_service(const std::string& name, const TestService& s, const Tuning& t = {});
// A service file checked by `sh -c SCRIPT`; its url (and so its id) is on 127.0.0.1:PORT.
std::string exec_service(const std::string& name, int port, const std::string& script);

// The instance as the directory has it; null when it has none.
json instance(const Directory& d, const std::string& service, const std::string& id);
// The next watch event about `service`, skipping keep-alives and other services; null when none
// arrives within `timeout`.
json next_event(LineStream& s, const std::string& service, Clock::duration timeout = 5s);

class WatsonTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_.start(); }
  void TearDown() override;  // on failure: every watson's /v1/status and stderr

  // A started watson registering with dir_ (unless the options name directories or quick mode
  // is used). The fixture owns it so that TearDown can still report on it.
  Watson& start(WatsonOptions options);

  // Polls dir_ until the instance is there (registered) or not (gone).
  bool registered(const std::string& service, const std::string& id, Clock::duration within = 5s);
  bool gone(const std::string& service, const std::string& id, Clock::duration within = 5s);

  Directory dir_;
  std::vector<std::unique_ptr<Watson>> watsons_;
};

}  // namespace dstack::test
