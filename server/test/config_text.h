// A server configuration loaded from TOML text (through a file in a fresh
// test directory, as the program reads it), for the settings tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "config.h"
#include "fakes.h"

namespace mortise::server::testing {

// LoadConfigFile of `toml`; its ConfigError propagates.
inline Config LoadConfigText(const std::string& toml) {
  const auto dir = FreshTestDir("mortise-config-");
  const auto file = (dir / "server.toml").string();
  {
    std::ofstream out(file);
    out << toml;
  }
  struct Remove {
    std::filesystem::path dir;
    ~Remove() { std::filesystem::remove_all(dir); }
  } remove{dir};
  return LoadConfigFile(file);
}

}  // namespace mortise::server::testing
