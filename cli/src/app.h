// The `mortise` command line: builds the CLI11 command tree, parses, runs
// the chosen command, and turns every failure into one stderr line and an
// exit code (exit_codes.h). main.cc only calls Run.
#pragma once

namespace mortise::cli {

// Returns the process exit code. Never throws.
int Run(int argc, char** argv);

}  // namespace mortise::cli
