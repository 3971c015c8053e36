#include "mortise/termqr/termqr.h"

#include <qrencode.h>

#include <memory>
#include <string>
#include <vector>

namespace mortise::termqr {
namespace {

constexpr int kQuiet = 4;
// libqrencode's byte mode at level M holds at most 2,331 bytes (version 40).
constexpr size_t kMaxBytes = 2331;

struct QrDeleter {
  void operator()(QRcode* code) const { QRcode_free(code); }
};

// Module matrix including the quiet zone; true = dark.
Result<std::vector<std::vector<bool>>> Matrix(std::string_view text) {
  if (text.empty() || text.size() > kMaxBytes) return StatusCode::kInvalidArgument;
  const std::string copy(text);
  std::unique_ptr<QRcode, QrDeleter> code(
      QRcode_encodeData(static_cast<int>(copy.size()), reinterpret_cast<const unsigned char*>(copy.data()), 0,
                        QR_ECLEVEL_M));
  if (!code) return StatusCode::kInvalidArgument;
  const int w = code->width;
  const int size = w + 2 * kQuiet;
  std::vector<std::vector<bool>> m(static_cast<size_t>(size), std::vector<bool>(static_cast<size_t>(size), false));
  for (int y = 0; y < w; ++y) {
    for (int x = 0; x < w; ++x) {
      m[static_cast<size_t>(y + kQuiet)][static_cast<size_t>(x + kQuiet)] = (code->data[y * w + x] & 1) != 0;
    }
  }
  return m;
}

}  // namespace

Result<std::string> Render(std::string_view text) {
  auto m = Matrix(text);
  if (!m.ok()) return m.status();
  const size_t size = m->size();
  std::string out;
  // Light modules are drawn (full/half blocks), dark ones left blank: on a
  // dark terminal the code then appears as dark modules on a light field.
  for (size_t y = 0; y < size; y += 2) {
    for (size_t x = 0; x < size; ++x) {
      const bool top_light = !(*m)[y][x];
      const bool bottom_light = y + 1 < size ? !(*m)[y + 1][x] : true;
      if (top_light && bottom_light) {
        out += "\u2588";
      } else if (top_light) {
        out += "\u2580";
      } else if (bottom_light) {
        out += "\u2584";
      } else {
        out += " ";
      }
    }
    out += "\n";
  }
  return out;
}

Result<std::string> RenderAscii(std::string_view text) {
  auto m = Matrix(text);
  if (!m.ok()) return m.status();
  std::string out;
  for (const auto& row : *m) {
    for (const bool dark : row) out += dark ? "##" : "  ";
    out += "\n";
  }
  return out;
}

}  // namespace mortise::termqr
