// SPDX-License-Identifier: Apache-2.0
#pragma once
// dw's command line: parses the grammar of docs/dw.md and runs the chosen command.

namespace dstack::dw {

int main(int argc, char** argv);

}  // namespace dstack::dw
