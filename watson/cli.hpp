// SPDX-License-Identifier: Apache-2.0
#pragma once
// watson's command line (docs/watson.md#running-it): parses it and runs the chosen mode.

namespace dstack::watson {

int main(int argc, char** argv);

}  // namespace dstack::watson
