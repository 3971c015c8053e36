#include "key_string.h"

#include <algorithm>
#include <optional>

#include "error.h"
#include "mortise/protocol/text_forms.h"

namespace mortise::cli {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

[[noreturn]] void Bad(std::string what, std::string hint = "Copy the whole string again, without spaces or line breaks.") {
  throw Error(ExitCode::kBadInput, std::move(what), std::move(hint));
}

// Refuses the other Mortise prefixes with a message that says what the text is.
[[noreturn]] void WrongPrefix(std::string_view text, std::string_view wanted) {
  const std::string want(wanted);
  switch (protocol::IdentifyText(text)) {
    case protocol::TextForm::kKeyChain:
      Bad("this is a bare certificate chain (MK1.), not a " + std::string(wanted == kSharePrefix ? "shared key (MKS1.)" : "public key (MKP1.)"),
          wanted == kSharePrefix ? "Ask the owner for the string `mortise key share` prints; it also carries the lock's key and address."
                                 : "Give the string `mortise id show` prints.");
    case protocol::TextForm::kClaimLabel:
      Bad("this is a lock's claim label (MC1.), not a " + std::string(wanted == kSharePrefix ? "shared key" : "public key"),
          "Use it with `mortise claim`.");
    case protocol::TextForm::kPublicKey:
      Bad("this is a public key (MKP1.), not a shared key (MKS1.)",
          "A public key is what a guest gives the owner; the owner runs `mortise key share --to` with it.");
    case protocol::TextForm::kShare:
      Bad("this is a shared key (MKS1.), not a public key (MKP1.)", "Accept it with `mortise key accept`.");
    case protocol::TextForm::kRevalidationToken:
      Bad("this is a revalidation token (MKR1.), not a " + std::string(wanted == kSharePrefix ? "shared key" : "public key"),
          "Store it with `mortise key token`.");
    case protocol::TextForm::kTransfer:
      Bad("this is a lock handed over to you (MKT1.), not a " +
              std::string(wanted == kSharePrefix ? "shared key" : "public key"),
          "Take the lock over with `mortise lock take-over`.");
    case protocol::TextForm::kUnknown: break;
  }
  Bad("not a Mortise " + std::string(wanted == kSharePrefix ? "shared key" : "public key") + ": it must start with " + want,
      "Copy the whole string, including its prefix.");
}

const char* FieldName(uint32_t type) {
  switch (static_cast<ShareField>(type)) {
    case ShareField::kLockKey: return "lock key";
    case ShareField::kChain: return "key chain";
    case ShareField::kEndpointHint: return "endpoint hint";
    case ShareField::kLockNameHint: return "lock name hint";
    case ShareField::kCheck: return "check";
  }
  return "unknown field";
}

// The words for a refusal of the protocol library's parsers. `what` names
// the text ("the key string", "the public key string").
[[noreturn]] void Explain(const protocol::TextError& e, std::string_view text, std::string_view prefix,
                          const std::string& what) {
  using P = protocol::TextProblem;
  const std::string v = std::to_string(e.value);
  const char* again = "Ask the owner to share the key again.";
  const char* copy_again = "Copy it again exactly as the owner sent it, or scan its QR code.";
  switch (e.problem) {
    case P::kWrongPrefix: WrongPrefix(text, prefix);
    case P::kTooLong: Bad(what + " is too long (" + v + " characters)");
    case P::kBadBase64: Bad(what + " is damaged: a character outside base64url, or cut off");
    case P::kWrongLength:
      if (prefix == kPublicKeyPrefix) Bad(what + " holds " + v + " bytes, not 37 (33 without its check)", copy_again);
      Bad(what + " holds " + v + " bytes, a length it cannot have", copy_again);
    case P::kBadPoint:
      if (prefix == kPublicKeyPrefix) Bad(what + " is not a valid P-256 point");
      Bad("the key string's lock key is not a valid P-256 point", again);
    case P::kEmpty: Bad(what + " is empty after its prefix");
    case P::kShareVersion1:
      Bad("the key string has format version 1, which carries no check against copying mistakes",
          "Ask the owner to share the key again with this mortise (version 2).");
    case P::kShareNoCheck: Bad("the key string is cut short or damaged (it does not end with its check)", copy_again);
    case P::kShareCheckMismatch:
      Bad(what + " is damaged: a character was changed or lost in copying (its check does not match)", copy_again);
    case P::kShareVersion:
      Bad("the key string has format version " + v + "; this mortise reads version 2",
          "Update mortise, or ask the owner for a version 2 string.");
    case P::kShareTruncatedHeader: Bad("the key string is truncated (in a field header)");
    case P::kShareUnknownField:
      Bad("the key string holds an unknown field (type " + v + ")", "Update mortise, or ask the owner to share the key again.");
    case P::kShareFieldOrder: Bad("the key string's fields are repeated or out of order");
    case P::kShareTruncatedField:
      Bad(std::string("the key string is truncated (its ") + FieldName(e.value) + " is cut short)");
    case P::kShareLockKeyLength: Bad("the key string's lock key has " + v + " bytes, not 33");
    case P::kShareChainLength: Bad("the key string's key chain has an impossible length (" + v + " bytes)");
    case P::kShareEndpointHint:
      if (prefix.empty()) Bad("the endpoint hint must be at most 255 printable characters", "Pick a shorter endpoint.");
      Bad("the key string's endpoint hint is empty, too long or not printable");
    case P::kShareNameHint:
      if (prefix.empty()) Bad("the lock name hint is not a valid name", "Use 1-64 letters, digits, '.', '_' or '-'.");
      Bad("the key string's lock name hint is not a valid name");
    case P::kShareNoLockKey: Bad("the key string has no lock key", again);
    case P::kShareNoChain: Bad("the key string has no key chain", again);
    case P::kChainEmptyOrTooLong: Bad("the key chain is empty or too long");
    case P::kChainUnexpectedField: Bad("the key chain is malformed (unexpected field)", again);
    case P::kChainTruncated: Bad("the key chain is truncated");
    case P::kChainBadLength: Bad("the key chain is malformed (length)", again);
    case P::kChainImpossibleSize: Bad("the key chain holds a certificate of impossible size");
    case P::kChainTooManyCerts: Bad("the key chain holds more than two certificates");
    case P::kChainMalformedCert: Bad("the key chain holds a malformed certificate", again);
    case P::kChainNotCanonical: Bad("the key chain is not in its canonical encoding", again);
    case P::kChainOtherLock:
      throw Error(ExitCode::kVerification, "the key string's certificate is for another lock than the lock key it carries",
                  "Do not use this string; ask the owner to share the key again.");
    case P::kUnknownTransferVersion:
      Bad(what + " has format version " + v + "; this mortise reads version 1", "Update mortise.");
    case P::kNone: break;
  }
  Bad(what + " is malformed");
}

protocol::ShareBundle ToProtocol(const ShareBundle& b) {
  protocol::ShareBundle p;
  p.lock_key = b.lock_key;
  if (b.chain.empty() || b.chain.size() > p.chain.size()) Bad("the key chain is empty or too long");
  std::copy(b.chain.begin(), b.chain.end(), p.chain.begin());
  p.chain_len = b.chain.size();
  if (b.endpoint_hint.size() > p.endpoint_hint.size())
    Bad("the endpoint hint must be at most 255 printable characters", "Pick a shorter endpoint.");
  std::copy(b.endpoint_hint.begin(), b.endpoint_hint.end(), p.endpoint_hint.begin());
  p.endpoint_hint_len = b.endpoint_hint.size();
  if (b.lock_name_hint.size() > p.lock_name_hint.size())
    Bad("the lock name hint is not a valid name", "Use 1-64 letters, digits, '.', '_' or '-'.");
  std::copy(b.lock_name_hint.begin(), b.lock_name_hint.end(), p.lock_name_hint.begin());
  p.lock_name_hint_len = b.lock_name_hint.size();
  return p;
}

}  // namespace

std::string Trimmed(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return std::string();
  return std::string(text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1));
}

std::string EncodePublicKeyString(const crypto::P256PublicKey& key) {
  std::string out(protocol::kPublicKeyTextSize, '\0');
  Result<size_t> n = protocol::PublicKeyToText(key, std::span<char>(out.data(), out.size()));
  if (!n.ok()) throw Error(ExitCode::kInternal, "cannot encode a public key");
  out.resize(*n);
  return out;
}

crypto::P256PublicKey ParsePublicKeyString(std::string_view text) {
  protocol::TextError why;
  Result<crypto::P256PublicKey> key = protocol::PublicKeyFromText(text, &why);
  if (!key.ok()) Explain(why, text, kPublicKeyPrefix, "the public key string");
  return *key;
}

std::string EncodeTransferString(const protocol::TransferBundle& bundle) {
  std::string out(protocol::kMaxTransferText, '\0');
  protocol::TextError why;
  Result<size_t> n = protocol::TransferToText(bundle, std::span<char>(out.data(), out.size()), &why);
  if (!n.ok()) Explain(why, {}, {}, "the transfer string");
  out.resize(*n);
  return out;
}

protocol::TransferBundle ParseTransferString(std::string_view text) {
  protocol::TextError why;
  Result<protocol::TransferBundle> b = protocol::TransferFromText(text, &why);
  if (!b.ok()) Explain(why, text, kTransferPrefix, "the transfer string");
  return *b;
}

std::vector<std::vector<uint8_t>> SplitChain(std::span<const uint8_t> chain) {
  protocol::TextError why;
  Result<protocol::ShareChain> split = protocol::SplitChain(chain, &why);
  if (!split.ok()) Explain(why, {}, {}, "the key chain");
  std::vector<std::vector<uint8_t>> certs;
  for (size_t i = 0; i < split->count; ++i) certs.emplace_back(split->certificates[i].begin(), split->certificates[i].end());
  return certs;
}

std::string EncodeShareString(const ShareBundle& bundle) {
  const protocol::ShareBundle p = ToProtocol(bundle);
  std::string out(protocol::kMaxShareText, '\0');
  protocol::TextError why;
  Result<size_t> n = protocol::ShareToText(p, std::span<char>(out.data(), out.size()), &why);
  if (!n.ok()) Explain(why, {}, {}, "the key string");
  out.resize(*n);
  return out;
}

ParsedShare ParseShareString(std::string_view text) {
  protocol::TextError why;
  Result<protocol::ShareBundle> p = protocol::ShareFromText(text, &why);
  if (!p.ok()) Explain(why, text, kSharePrefix, "the key string");
  ParsedShare out;
  out.bundle.lock_key = p->lock_key;
  out.bundle.chain.assign(p->chain_view().begin(), p->chain_view().end());
  out.bundle.endpoint_hint = std::string(p->endpoint_view());
  out.bundle.lock_name_hint = std::string(p->name_view());
  Result<crypto::P256PublicKey> lock_key = crypto::P256PublicKey::Import(p->lock_key);
  out.lock_id = protocol::LockIdOf(*lock_key);
  Result<protocol::ShareChain> split = protocol::SplitChain(p->chain_view());
  out.holder = split->holder;
  out.certificates = split->count;
  return out;
}

std::string EncodeRevalidationString(std::span<const uint8_t> token) {
  std::string out(protocol::kMaxRevalidationTextSize, '\0');
  Result<size_t> n = protocol::RevalidationTokenToText(token, std::span<char>(out.data(), out.size()));
  if (!n.ok()) throw Error(ExitCode::kInternal, "cannot encode the revalidation token");
  out.resize(*n);
  return out;
}

std::vector<uint8_t> ParseRevalidationString(std::string_view text) {
  if (protocol::IdentifyText(text) != protocol::TextForm::kRevalidationToken) {
    throw Error(ExitCode::kBadInput, "not a revalidation token (it starts with MKR1.)");
  }
  std::vector<uint8_t> token(protocol::kMaxRevalidationTextSize);
  Result<size_t> n = protocol::RevalidationTokenFromText(text, token);
  if (!n.ok() || *n > protocol::kMaxRevalidationTokenSize) {
    throw Error(ExitCode::kBadInput, "the revalidation token is malformed", "Copy it exactly as the owner sent it.");
  }
  token.resize(*n);
  return token;
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
