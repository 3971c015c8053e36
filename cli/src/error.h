// The one error type of the CLI. Inside the CLI, failures are exceptions
// (an outer program may use them, STYLE.md); main() turns each into one
// line on stderr, "mortise: <what went wrong>. <what to do>", and its exit
// code. Library code of the CLI throws only Error (and std::bad_alloc).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include "exit_codes.h"

namespace mortise::cli {

class Error : public std::runtime_error {
 public:
  // `what`: what went wrong, without a final period. `hint`: what to do, a
  // sentence (may be empty).
  Error(ExitCode code, std::string what, std::string hint = {})
      : std::runtime_error(std::move(what)), code_(code), hint_(std::move(hint)) {}

  ExitCode code() const { return code_; }
  const std::string& hint() const { return hint_; }

  // "mortise: <what>. <hint>" without a newline.
  std::string Line() const {
    std::string line = "mortise: ";
    line += what();
    line += '.';
    if (!hint_.empty()) {
      line += ' ';
      line += hint_;
    }
    return line;
  }

 private:
  ExitCode code_;
  std::string hint_;
};

}  // namespace mortise::cli
