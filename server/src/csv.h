// RFC 4180 CSV, both ways: the audit export writes it, the people import
// reads it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mortise::server {

// One cell: quoted when it holds a comma, quote, CR or LF (quotes doubled);
// a cell a spreadsheet would run as a formula (starting with = + - @ TAB or
// CR) gets a leading apostrophe (OWASP's CSV-injection advice).
std::string CsvCell(std::string_view value);

// Records of `text` (CRLF or LF line ends; quoted fields may hold commas,
// quotes doubled, and line breaks; a final line end is optional; empty lines
// are skipped). nullopt: a quote that never closes, or text after a closing
// quote other than a comma or a line end; `error_line` is then the 1-based
// line where the bad record starts.
std::optional<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text, int& error_line);

}  // namespace mortise::server
