#include "csv.h"

namespace mortise::server {

std::string CsvCell(std::string_view value) {
  std::string v(value);
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r')) {
    v.insert(v.begin(), '\'');
  }
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::optional<std::vector<std::vector<std::string>>> ParseCsv(std::string_view text, int& error_line) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  int line = 1, record_line = 1;
  size_t i = 0;
  bool field_started = false;
  const auto end_record = [&] {
    if (field_started || !record.empty()) {
      record.push_back(field);
      records.push_back(std::move(record));
    }
    record.clear();
    field.clear();
    field_started = false;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' && !field_started) {
      field_started = true;
      ++i;
      for (;;) {
        if (i >= text.size()) {
          error_line = record_line;
          return std::nullopt;
        }
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (text[i] == '\n') ++line;
        field += text[i++];
      }
      if (i < text.size() && text[i] != ',' && text[i] != '\r' && text[i] != '\n') {
        error_line = record_line;
        return std::nullopt;
      }
      continue;
    }
    if (c == ',') {
      record.push_back(field);
      field.clear();
      field_started = false;  // the record is not empty, so its last field is kept
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n') {
      i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      end_record();
      record_line = ++line;
      continue;
    }
    field += c;
    field_started = true;
    ++i;
  }
  end_record();
  return records;
}

}  // namespace mortise::server
