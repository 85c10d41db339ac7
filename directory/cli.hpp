// SPDX-License-Identifier: Apache-2.0
#pragma once
// dstack-directory's command line (docs/directory.md#command-line): parses it and runs the server.

namespace dstack::directory {

int main(int argc, char** argv);

}  // namespace dstack::directory
