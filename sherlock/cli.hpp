// SPDX-License-Identifier: Apache-2.0
#pragma once
// sherlock's command line (docs/sherlock.md#running-it): parses it and runs the chosen mode.

namespace dstack::sherlock {

int main(int argc, char** argv);

}  // namespace dstack::sherlock
