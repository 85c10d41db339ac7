// SPDX-License-Identifier: Apache-2.0
// watson: health-checks this host's service instances and keeps the directories' view of them
// true (docs/watson.md).
#include "watson/cli.hpp"

int main(int argc, char** argv) {
  return dstack::watson::main(argc, argv);
}
