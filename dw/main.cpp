// SPDX-License-Identifier: Apache-2.0
// dw: the operator's command line for dstack.
#include "dw/cli.hpp"

int main(int argc, char** argv) {
  return dstack::dw::main(argc, argv);
}
