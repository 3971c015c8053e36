// mortise-vectors --compat-images DIR: writes a new set of storage
// compatibility images (vectors.h, WriteCompatImages).
// mortise-vectors DIR: writes every vector file of vectors/ into DIR
// (normally the repository's vectors/ folder; `cmake --build --preset default
// --target vectors-regenerate` does that). Deterministic: two runs write
// the same bytes.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "vectors.h"

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--compat-images") {
    try {
      mortise::vectors::WriteCompatImages(argv[2]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mortise-vectors: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: mortise-vectors DIR | mortise-vectors --compat-images DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  try {
    std::filesystem::create_directories(dir);
    for (const mortise::vectors::VectorKind& kind : mortise::vectors::Kinds()) {
      const std::string text = mortise::vectors::Render(kind.make());
      const std::filesystem::path path = dir / std::string(kind.file);
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << text;
      out.close();
      if (!out) {
        std::fprintf(stderr, "mortise-vectors: cannot write %s\n", path.c_str());
        return 1;
      }
      std::printf("%s (%zu bytes)\n", path.c_str(), text.size());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mortise-vectors: %s\n", e.what());
    return 1;
  }
  return 0;
}
