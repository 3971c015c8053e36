// Fuzzes the key-string parsers (MKS1 share bundles, MKP1 public keys): no
// input may crash them, each refusal is an Error, and every accepted input
// encodes back to exactly itself (one text per key).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "error.h"
#include "key_string.h"

using namespace mortise;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const cli::ParsedShare share = cli::ParseShareString(text);
    if (cli::EncodeShareString(share.bundle) != text) std::abort();
  } catch (const cli::Error&) {
  }
  try {
    const crypto::P256PublicKey key = cli::ParsePublicKeyString(text);
    // A text re-encodes to itself; the form without the check (earlier
    // versions) to the checked form of the same key.
    const std::string again = cli::EncodePublicKeyString(key);
    if (text.size() == protocol::kLegacyPublicKeyTextSize ? !(cli::ParsePublicKeyString(again) == key) : again != text)
      std::abort();
  } catch (const cli::Error&) {
  }
  try {
    const protocol::TransferBundle transfer = cli::ParseTransferString(text);
    if (cli::EncodeTransferString(transfer) != text) std::abort();
  } catch (const cli::Error&) {
  }
  // The chain splitter sees raw bytes too (key accept reads chains this way).
  try {
    (void)cli::SplitChain(std::span<const uint8_t>(data, size));
  } catch (const cli::Error&) {
  }
  return 0;
}
