// SPDX-License-Identifier: Apache-2.0
// dstack-directory: the registry watsons write to and sherlocks read from (docs/directory.md).
#include "directory/cli.hpp"

int main(int argc, char** argv) {
  return dstack::directory::main(argc, argv);
}
