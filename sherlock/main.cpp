// SPDX-License-Identifier: Apache-2.0
// sherlock: follows the directory and keeps a local HAProxy routing to healthy instances, with
// canary weights and hitless updates (docs/sherlock.md).
#include "sherlock/cli.hpp"

int main(int argc, char** argv) {
  return dstack::sherlock::main(argc, argv);
}
