// The `mortise` command line: builds the CLI11 command tree, parses, runs
// the chosen command, and turns every failure into one stderr line and an
// exit code (exit_codes.h). main.cc only calls Run.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mortise::cli {

// The choice nearest to `word` if it is close enough to be a slip of the
// keyboard (an edit distance of at most 2, and under half the word; a
// prefix counts as 1); empty otherwise. For "did you mean" hints.
std::string NearestWord(std::string_view word, const std::vector<std::string>& choices);

// Returns the process exit code. Never throws.
int Run(int argc, char** argv);

}  // namespace mortise::cli
