#include "key_string.h"

#include <algorithm>
#include <optional>

#include "base64url.h"
#include "error.h"
#include "mortise/crypto/hash.h"

namespace mortise::cli {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

[[noreturn]] void Bad(std::string what, std::string hint = "Copy the whole string again, without spaces or line breaks.") {
  throw Error(ExitCode::kBadInput, std::move(what), std::move(hint));
}

// Refuses the other Mortise prefixes with a message that says what the text is.
[[noreturn]] void WrongPrefix(std::string_view text, std::string_view wanted) {
  const std::string want(wanted);
  if (text.starts_with(protocol::kKeyTextPrefix))
    Bad("this is a bare certificate chain (MK1.), not a " + std::string(wanted == kSharePrefix ? "shared key (MKS1.)" : "public key (MKP1.)"),
        wanted == kSharePrefix ? "Ask the owner for the string `mortise key share` prints; it also carries the lock's key and address."
                               : "Give the string `mortise id show` prints.");
  if (text.starts_with("MC1."))
    Bad("this is a lock's claim label (MC1.), not a " + std::string(wanted == kSharePrefix ? "shared key" : "public key"),
        "Use it with `mortise claim`.");
  if (text.starts_with(kPublicKeyPrefix))
    Bad("this is a public key (MKP1.), not a shared key (MKS1.)",
        "A public key is what a guest gives the owner; the owner runs `mortise key share --to` with it.");
  if (text.starts_with(kSharePrefix))
    Bad("this is a shared key (MKS1.), not a public key (MKP1.)", "Accept it with `mortise key accept`.");
  Bad("not a Mortise " + std::string(wanted == kSharePrefix ? "shared key" : "public key") + ": it must start with " + want,
      "Copy the whole string, including its prefix.");
}

std::vector<uint8_t> DecodeBody(std::string_view text, std::string_view prefix, size_t max_text, const char* what) {
  if (!text.starts_with(prefix)) WrongPrefix(text, prefix);
  if (text.size() > max_text) Bad(std::string(what) + " is too long (" + std::to_string(text.size()) + " characters)");
  std::optional<std::vector<uint8_t>> bytes = Base64UrlDecode(text.substr(prefix.size()));
  if (!bytes) Bad(std::string(what) + " is damaged: a character outside base64url, or cut off");
  return std::move(*bytes);
}

bool IsPrintableAscii(std::string_view s) {
  for (const char c : s)
    if (c < 0x21 || c > 0x7E) return false;
  return true;
}

const char* FieldName(uint8_t type) {
  switch (static_cast<ShareField>(type)) {
    case ShareField::kLockKey: return "lock key";
    case ShareField::kChain: return "key chain";
    case ShareField::kEndpointHint: return "endpoint hint";
    case ShareField::kLockNameHint: return "lock name hint";
    case ShareField::kCheck: return "check";
  }
  return "unknown field";
}

crypto::P256PublicKey ImportLockKey(std::span<const uint8_t> bytes, size_t expected) {
  if (bytes.size() != expected)
    Bad("the key string's lock key has " + std::to_string(bytes.size()) + " bytes, not " + std::to_string(expected));
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(bytes);
  if (!key.ok()) Bad("the key string's lock key is not a valid P-256 point", "Ask the owner to share the key again.");
  return *key;
}

// Checks the chain and fills the derived fields of `out`.
void CheckChain(std::span<const uint8_t> chain, const crypto::P256PublicKey& lock_key, ParsedShare& out) {
  const std::vector<std::vector<uint8_t>> certs = SplitChain(chain);
  out.lock_id = protocol::LockIdOf(lock_key);
  for (const auto& cert : certs) {
    Result<protocol::CertificateFields> fields = protocol::DecodeCertificate(cert);
    if (!fields.ok()) Bad("the key string's certificate chain is malformed", "Ask the owner to share the key again.");
    // A group key names no lock (it opens where the group's memberships
    // say); the lock key beside it says which door the holder starts with.
    if (fields->scope == protocol::Scope::kLock && fields->lock_id != out.lock_id)
      throw Error(ExitCode::kVerification, "the key string's certificate is for another lock than the lock key it carries",
                  "Do not use this string; ask the owner to share the key again.");
    out.holder = *fields;
  }
  out.certificates = certs.size();
}

}  // namespace

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front())) return false;
  for (const char c : name)
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

std::string EncodePublicKeyString(const crypto::P256PublicKey& key) {
  const auto compressed = key.Compressed();
  return std::string(kPublicKeyPrefix) + Base64UrlEncode(compressed);
}

crypto::P256PublicKey ParsePublicKeyString(std::string_view text) {
  constexpr size_t kTextSize = 5 + (crypto::kP256CompressedKeySize * 4 + 2) / 3;
  const std::vector<uint8_t> bytes = DecodeBody(text, kPublicKeyPrefix, kTextSize, "the public key string");
  if (bytes.size() != crypto::kP256CompressedKeySize)
    Bad("the public key string holds " + std::to_string(bytes.size()) + " bytes, not 33");
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(bytes);
  if (!key.ok()) Bad("the public key string is not a valid P-256 point");
  return *key;
}

std::vector<std::vector<uint8_t>> SplitChain(std::span<const uint8_t> chain) {
  if (chain.empty() || chain.size() > protocol::kMaxChainSize) Bad("the key chain is empty or too long");
  std::vector<std::vector<uint8_t>> certs;
  size_t i = 0;
  while (i < chain.size()) {
    if (chain[i] != 0x0A) Bad("the key chain is malformed (unexpected field)", "Ask the owner to share the key again.");
    ++i;
    // A certificate is at most kMaxCertificateSize (< 2^14): at most two varint bytes.
    size_t len = 0;
    int shift = 0;
    for (int n = 0;; ++n) {
      if (i >= chain.size()) Bad("the key chain is truncated");
      if (n == 2) Bad("the key chain is malformed (length)", "Ask the owner to share the key again.");
      const uint8_t b = chain[i++];
      len |= static_cast<size_t>(b & 0x7F) << shift;
      shift += 7;
      if ((b & 0x80) == 0) break;
    }
    if (len == 0 || len > protocol::kMaxCertificateSize) Bad("the key chain holds a certificate of impossible size");
    if (chain.size() - i < len) Bad("the key chain is truncated");
    certs.emplace_back(chain.begin() + static_cast<std::ptrdiff_t>(i), chain.begin() + static_cast<std::ptrdiff_t>(i + len));
    i += len;
    if (certs.size() > 2) Bad("the key chain holds more than two certificates");
  }
  for (const auto& cert : certs)
    if (!protocol::DecodeCertificate(cert).ok())
      Bad("the key chain holds a malformed certificate", "Ask the owner to share the key again.");
  // One encoding per chain: re-encode and compare (refuses over-long
  // varints and anything the loop above tolerated).
  std::vector<uint8_t> again(protocol::kMaxChainSize);
  Result<size_t> n = protocol::EncodeChain(certs[0], certs.size() == 2 ? std::span<const uint8_t>(certs[1]) : std::span<const uint8_t>(),
                                           again);
  if (!n.ok() || *n != chain.size() || !std::equal(chain.begin(), chain.end(), again.begin()))
    Bad("the key chain is not in its canonical encoding", "Ask the owner to share the key again.");
  return certs;
}

std::array<uint8_t, kShareCheckSize> ShareCheck(std::span<const uint8_t> before) {
  const crypto::Digest digest = crypto::Sha256::Hash(before);
  std::array<uint8_t, kShareCheckSize> out{};
  std::copy_n(digest.begin(), kShareCheckSize, out.begin());
  return out;
}

std::string EncodeShareString(const ShareBundle& bundle) {
  const crypto::P256PublicKey lock_key = ImportLockKey(bundle.lock_key, crypto::kP256PublicKeySize);
  ParsedShare check;
  CheckChain(bundle.chain, lock_key, check);
  if (bundle.endpoint_hint.size() > kMaxEndpointHint || !IsPrintableAscii(bundle.endpoint_hint))
    Bad("the endpoint hint must be at most 255 printable characters", "Pick a shorter endpoint.");
  if (!bundle.lock_name_hint.empty() && !IsValidName(bundle.lock_name_hint))
    Bad("the lock name hint is not a valid name", "Use 1-64 letters, digits, '.', '_' or '-'.");

  std::vector<uint8_t> bin;
  bin.push_back(kShareVersion);
  auto put = [&bin](ShareField type, std::span<const uint8_t> value) {
    bin.push_back(static_cast<uint8_t>(type));
    bin.push_back(static_cast<uint8_t>(value.size() >> 8));
    bin.push_back(static_cast<uint8_t>(value.size()));
    bin.insert(bin.end(), value.begin(), value.end());
  };
  const auto compressed = lock_key.Compressed();
  put(ShareField::kLockKey, compressed);
  put(ShareField::kChain, bundle.chain);
  auto bytes_of = [](const std::string& s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  if (!bundle.endpoint_hint.empty()) put(ShareField::kEndpointHint, bytes_of(bundle.endpoint_hint));
  if (!bundle.lock_name_hint.empty()) put(ShareField::kLockNameHint, bytes_of(bundle.lock_name_hint));
  const auto sum = ShareCheck(bin);
  put(ShareField::kCheck, sum);
  return std::string(kSharePrefix) + Base64UrlEncode(bin);
}

ParsedShare ParseShareString(std::string_view text) {
  const std::vector<uint8_t> bin = DecodeBody(text, kSharePrefix, kMaxShareText, "the key string");
  if (bin.empty()) Bad("the key string is empty after its prefix");
  if (bin[0] == 1)
    Bad("the key string has format version 1, which carries no check against copying mistakes",
        "Ask the owner to share the key again with this mortise (version 2).");

  ParsedShare out;
  std::optional<crypto::P256PublicKey> lock_key;
  bool have_chain = false;
  int last_type = 0;
  // The check first: a changed or lost character is named as such, not as
  // whatever field it happened to land in.
  constexpr size_t kTail = 3 + kShareCheckSize;
  if (bin.size() < 1 + kTail || bin[bin.size() - kTail] != static_cast<uint8_t>(ShareField::kCheck) ||
      bin[bin.size() - kTail + 1] != 0 || bin[bin.size() - kTail + 2] != kShareCheckSize) {
    Bad("the key string is cut short or damaged (it does not end with its check)",
        "Copy it again exactly as the owner sent it, or scan its QR code.");
  }
  const size_t end = bin.size() - kTail;
  const auto want = ShareCheck(std::span<const uint8_t>(bin.data(), end));
  if (!std::equal(want.begin(), want.end(), bin.begin() + static_cast<std::ptrdiff_t>(end + 3)))
    Bad("the key string is damaged: a character was changed or lost in copying (its check does not match)",
        "Copy it again exactly as the owner sent it, or scan its QR code.");
  // (After the check: a changed first character is damage, not a version.)
  if (bin[0] != kShareVersion)
    Bad("the key string has format version " + std::to_string(bin[0]) + "; this mortise reads version 2",
        "Update mortise, or ask the owner for a version 2 string.");
  size_t i = 1;
  while (i < end) {
    if (end - i < 3) Bad("the key string is truncated (in a field header)");
    const uint8_t type = bin[i];
    const size_t len = (size_t{bin[i + 1]} << 8) | bin[i + 2];
    i += 3;
    if (type < 0x01 || type > 0x04) Bad("the key string holds an unknown field (type " + std::to_string(type) + ")",
                                        "Update mortise, or ask the owner to share the key again.");
    if (type <= last_type) Bad("the key string's fields are repeated or out of order");
    last_type = type;
    if (end - i < len)
      Bad(std::string("the key string is truncated (its ") + FieldName(type) + " is cut short)");
    const std::span<const uint8_t> value(bin.data() + i, len);
    i += len;
    switch (static_cast<ShareField>(type)) {
      case ShareField::kLockKey:
        lock_key = ImportLockKey(value, crypto::kP256CompressedKeySize);
        out.bundle.lock_key = lock_key->bytes();
        break;
      case ShareField::kChain:
        if (len == 0 || len > protocol::kMaxChainSize)
          Bad("the key string's key chain has an impossible length (" + std::to_string(len) + " bytes)");
        out.bundle.chain.assign(value.begin(), value.end());
        have_chain = true;
        break;
      case ShareField::kEndpointHint: {
        std::string hint(value.begin(), value.end());
        if (hint.empty() || hint.size() > kMaxEndpointHint || !IsPrintableAscii(hint))
          Bad("the key string's endpoint hint is empty, too long or not printable");
        out.bundle.endpoint_hint = std::move(hint);
        break;
      }
      case ShareField::kLockNameHint: {
        std::string name(value.begin(), value.end());
        if (!IsValidName(name)) Bad("the key string's lock name hint is not a valid name");
        out.bundle.lock_name_hint = std::move(name);
        break;
      }
      case ShareField::kCheck: break;  // only at the end, verified above
    }
  }
  if (!lock_key) Bad("the key string has no lock key", "Ask the owner to share the key again.");
  if (!have_chain) Bad("the key string has no key chain", "Ask the owner to share the key again.");
  CheckChain(out.bundle.chain, *lock_key, out);
  return out;
}

std::string ToHex(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const uint8_t b : bytes) {
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 15];
  }
  return out;
}

bool FromHex(std::string_view hex, std::vector<uint8_t>& out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<uint8_t> bytes;
  bytes.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  out = std::move(bytes);
  return true;
}

}  // namespace mortise::cli
