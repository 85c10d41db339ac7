#pragma once
// dw's command line: parses SPEC §7's grammar and runs the chosen command.

namespace dstack::dw {

int main(int argc, char** argv);

}  // namespace dstack::dw
