// Slicing text without exceptions, for portable code.
//
// Why not std::string_view::substr / starts_with / compare(pos, ...): they
// check their position and throw std::out_of_range, and even when the check
// can never fail the call keeps a reference to libstdc++'s
// std::__throw_out_of_range_fmt on targets where the optimiser does not prove
// it away (a Cortex-M4 build at -Os did not). Portable modules use these
// instead; scripts/check_portable fails on any such call in their sources.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mortise {

// True when `text` begins with `prefix`.
constexpr bool HasPrefix(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && std::char_traits<char>::compare(text.data(), prefix.data(), prefix.size()) == 0;
}

// `text` without its first `count` characters; empty when count >= size.
constexpr std::string_view DropPrefix(std::string_view text, size_t count) noexcept {
  if (count >= text.size()) return std::string_view();
  return std::string_view(text.data() + count, text.size() - count);
}

}  // namespace mortise
