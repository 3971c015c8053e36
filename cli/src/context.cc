#include <cstdlib>
#include <ctime>

#include "commands.h"
#include "entropy.h"
#include "error.h"
#include "lock_session.h"

namespace mortise::cli {

std::filesystem::path Context::KeyringPath() const {
  if (!options_.keyring.empty()) return options_.keyring;
  return DefaultKeyringPath();
}

std::chrono::milliseconds Context::timeout() const {
  return std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_s * 1000.0));
}

int64_t Context::Now() const {
  // Test-only: MORTISE_NOW pins this device's clock (an ISO UTC time), so an
  // end-to-end test on a simulated lock clock sees the same "now" on both
  // sides, whatever day the tests run. Like MORTISE_KEYRING_KDF=fast, never
  // set it for real use.
  if (const char* pinned = std::getenv("MORTISE_NOW"); pinned != nullptr && *pinned != '\0') {
    return ParseUtc(pinned, static_cast<int64_t>(std::time(nullptr)));
  }
  return static_cast<int64_t>(std::time(nullptr));
}

crypto::Drbg& Context::drbg() { return SystemDrbg(); }

const SecretString& Context::Passphrase(bool creating) {
  if (!passphrase_) {
    PassphraseSource source = source_override_.value_or(PassphraseSource{});
    source.fd = options_.passphrase_fd;
    passphrase_.emplace(ReadPassphrase(source, creating ? "New keyring passphrase: " : "Keyring passphrase: ", creating));
    if (creating) {
      // The keyring file holds every key: a short passphrase falls to a
      // guessing run on a copy of it, whatever the KDF.
      size_t chars = 0;
      for (const char ch : passphrase_->view()) chars += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
      if (chars < kMinNewPassphrase) {
        passphrase_.reset();
        throw Error(ExitCode::kBadInput,
                    "a new keyring passphrase needs at least " + std::to_string(kMinNewPassphrase) +
                        " characters (this one has " + std::to_string(chars) + "); nothing was created",
                    "Choose a longer one (a few unrelated words make a good one), on the terminal or in "
                    "MORTISE_PASSPHRASE.");
      }
    }
  }
  return *passphrase_;
}

Keyring Context::OpenKeyring(Keyring::Access access) {
  const std::filesystem::path path = KeyringPath();
  std::error_code ec;
  // Say "no keyring" before asking for a passphrase that cannot help.
  if (!std::filesystem::exists(path, ec))
    throw Error(ExitCode::kKeyring, "no keyring at " + path.string(),
                "Create one with `mortise init`, or name yours with --keyring or MORTISE_KEYRING.");
  const SecretString& pass = Passphrase();
  Progress progress("Unlocking the keyring");
  return Keyring::Open(path, pass.view(), access);
}

Keyring Context::CreateKeyring(KeyringContent initial) {
  const std::filesystem::path path = KeyringPath();
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
    throw Error(ExitCode::kKeyring, "a keyring already exists at " + path.string(),
                "Use it, or choose another path with --keyring.");
  const SecretString& pass = Passphrase(true);
  Progress progress("Creating the keyring");
  return Keyring::Create(path, pass.view(), KdfParams::ForNewKeyring(), std::move(initial));
}

LockEntry& Context::SelectLock(Keyring& keyring) { return keyring.content().SelectLock(options_.lock); }

Transport Context::Connect(const Endpoint& endpoint) {
  Progress progress("Connecting to " + endpoint.ToString());
  return Transport::Connect(endpoint, timeout());
}

}  // namespace mortise::cli
