#include "mortise/protocol/text_forms.h"

#include <cstring>

#include "mortise/crypto/hash.h"
#include "mortise/protocol/base64url.h"
#include "mortise/protocol/claim.h"

namespace mortise::protocol {
namespace {

Status Fail(TextError* why, TextProblem problem, uint32_t value = 0) {
  if (why != nullptr) *why = TextError{problem, value};
  return StatusCode::kInvalidArgument;
}

// No substr: it can throw, and this module has no exceptions (issue 9 item 7).
bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && std::memcmp(text.data(), prefix.data(), prefix.size()) == 0;
}

std::string_view After(std::string_view text, size_t n) { return std::string_view(text.data() + n, text.size() - n); }

// Prefix, length bound and base64url of a text form's body.
Result<size_t> DecodeBody(std::string_view text, std::string_view prefix, size_t max_text, std::span<uint8_t> out,
                          TextError* why) {
  if (!StartsWith(text, prefix)) return Fail(why, TextProblem::kWrongPrefix);
  if (text.size() > max_text) return Fail(why, TextProblem::kTooLong, static_cast<uint32_t>(text.size()));
  Result<size_t> n = Base64UrlDecode(After(text, prefix.size()), out);
  if (!n.ok()) return Fail(why, TextProblem::kBadBase64);
  return *n;
}

Result<size_t> EncodeBody(std::string_view prefix, std::span<const uint8_t> bytes, std::span<char> out) {
  if (out.size() < prefix.size()) return StatusCode::kResourceExhausted;
  std::memcpy(out.data(), prefix.data(), prefix.size());
  MORTISE_ASSIGN_OR_RETURN(const size_t n, Base64UrlEncode(bytes, out.subspan(prefix.size())));
  return prefix.size() + n;
}

bool IsPrintableAscii(std::string_view s) {
  for (const char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

// The chain splits and every lock-scoped certificate names the lock of
// `lock_key` (a group key names no lock: it opens where the group's
// memberships say; the lock key beside it says which door the holder starts
// with).
Result<ShareChain> CheckShareChain(std::span<const uint8_t> chain, const crypto::P256PublicKey& lock_key,
                                   TextError* why) {
  MORTISE_ASSIGN_OR_RETURN(ShareChain split, SplitChain(chain, why));
  const LockId lock_id = LockIdOf(lock_key);
  for (size_t i = 0; i < split.count; ++i) {
    Result<CertificateFields> f = DecodeCertificate(split.certificates[i]);
    if (!f.ok()) return Fail(why, TextProblem::kChainMalformedCert);
    if (f->scope == Scope::kLock && f->lock_id != lock_id) return Fail(why, TextProblem::kChainOtherLock);
  }
  return split;
}

}  // namespace

TextForm IdentifyText(std::string_view text) {
  if (StartsWith(text, kKeyTextPrefix)) return TextForm::kKeyChain;
  if (StartsWith(text, kLabelPrefix)) return TextForm::kClaimLabel;
  if (StartsWith(text, kPublicKeyTextPrefix)) return TextForm::kPublicKey;
  if (StartsWith(text, kShareTextPrefix)) return TextForm::kShare;
  if (StartsWith(text, kRevalidationTextPrefix)) return TextForm::kRevalidationToken;
  if (StartsWith(text, kTransferTextPrefix)) return TextForm::kTransfer;
  return TextForm::kUnknown;
}

// --- MKP1 -----------------------------------------------------------------------

Result<size_t> PublicKeyToText(const crypto::P256PublicKey& key, std::span<char> out) {
  uint8_t bytes[crypto::kP256CompressedKeySize + kShareCheckSize];
  const auto compressed = key.Compressed();
  std::memcpy(bytes, compressed.data(), compressed.size());
  const auto check = ShareCheck(compressed);
  std::memcpy(bytes + compressed.size(), check.data(), check.size());
  return EncodeBody(kPublicKeyTextPrefix, bytes, out);
}

Result<crypto::P256PublicKey> PublicKeyFromText(std::string_view text, TextError* why) {
  uint8_t bytes[kPublicKeyTextSize];
  MORTISE_ASSIGN_OR_RETURN(const size_t n, DecodeBody(text, kPublicKeyTextPrefix, kPublicKeyTextSize, bytes, why));
  if (n != crypto::kP256CompressedKeySize && n != crypto::kP256CompressedKeySize + kShareCheckSize) {
    return Fail(why, TextProblem::kWrongLength, static_cast<uint32_t>(n));
  }
  const std::span<const uint8_t> point(bytes, crypto::kP256CompressedKeySize);
  if (n != point.size()) {
    const auto check = ShareCheck(point);
    if (std::memcmp(check.data(), bytes + point.size(), kShareCheckSize) != 0) {
      return Fail(why, TextProblem::kShareCheckMismatch);
    }
  }
  Result<crypto::P256PublicKey> key = crypto::P256PublicKey::Import(point);
  if (!key.ok()) return Fail(why, TextProblem::kBadPoint);
  return *key;
}

// --- MKR1 -----------------------------------------------------------------------

Result<size_t> RevalidationTokenToText(std::span<const uint8_t> token, std::span<char> out) {
  if (token.empty() || token.size() > kMaxRevalidationTokenSize) return StatusCode::kInvalidArgument;
  return EncodeBody(kRevalidationTextPrefix, token, out);
}

Result<size_t> RevalidationTokenFromText(std::string_view text, std::span<uint8_t> out, TextError* why) {
  MORTISE_ASSIGN_OR_RETURN(const size_t n,
                           DecodeBody(text, kRevalidationTextPrefix, kMaxRevalidationTextSize, out, why));
  if (n == 0) return Fail(why, TextProblem::kEmpty);
  return n;
}

// --- MKS1 -----------------------------------------------------------------------

std::array<uint8_t, kShareCheckSize> ShareCheck(std::span<const uint8_t> before) {
  const crypto::Digest digest = crypto::Sha256::Hash(before);
  std::array<uint8_t, kShareCheckSize> out{};
  std::memcpy(out.data(), digest.data(), kShareCheckSize);
  return out;
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front())) return false;
  for (const char c : name) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

Result<ShareChain> SplitChain(std::span<const uint8_t> chain, TextError* why) {
  if (chain.empty() || chain.size() > kMaxChainSize) return Fail(why, TextProblem::kChainEmptyOrTooLong);
  ShareChain out;
  size_t i = 0;
  while (i < chain.size()) {
    if (chain[i] != 0x0A) return Fail(why, TextProblem::kChainUnexpectedField);
    ++i;
    // A certificate is at most kMaxCertificateSize (< 2^14): at most two varint bytes.
    size_t len = 0;
    int shift = 0;
    for (int n = 0;; ++n) {
      if (i >= chain.size()) return Fail(why, TextProblem::kChainTruncated);
      if (n == 2) return Fail(why, TextProblem::kChainBadLength);
      const uint8_t b = chain[i++];
      len |= static_cast<size_t>(b & 0x7F) << shift;
      shift += 7;
      if ((b & 0x80) == 0) break;
    }
    if (len == 0 || len > kMaxCertificateSize) return Fail(why, TextProblem::kChainImpossibleSize);
    if (chain.size() - i < len) return Fail(why, TextProblem::kChainTruncated);
    if (out.count == 2) return Fail(why, TextProblem::kChainTooManyCerts);
    out.certificates[out.count++] = chain.subspan(i, len);
    i += len;
  }
  for (size_t c = 0; c < out.count; ++c) {
    Result<CertificateFields> f = DecodeCertificate(out.certificates[c]);
    if (!f.ok()) return Fail(why, TextProblem::kChainMalformedCert);
    out.holder = *f;
  }
  // One encoding per chain: re-encode and compare (refuses over-long
  // varints and anything the loop above tolerated).
  uint8_t again[kMaxChainSize];
  Result<size_t> n = EncodeChain(out.certificates[0], out.count == 2 ? out.certificates[1] : std::span<const uint8_t>(),
                                 again);
  if (!n.ok() || *n != chain.size() || std::memcmp(again, chain.data(), chain.size()) != 0) {
    return Fail(why, TextProblem::kChainNotCanonical);
  }
  return out;
}

Result<size_t> EncodeShare(const ShareBundle& bundle, std::span<uint8_t> out, TextError* why) {
  Result<crypto::P256PublicKey> lock_key = crypto::P256PublicKey::Import(bundle.lock_key);
  if (!lock_key.ok()) return Fail(why, TextProblem::kBadPoint);
  MORTISE_TRY(CheckShareChain(bundle.chain_view(), *lock_key, why).status());
  const std::string_view endpoint = bundle.endpoint_view();
  if (bundle.endpoint_hint_len > kMaxEndpointHint || !IsPrintableAscii(endpoint)) {
    return Fail(why, TextProblem::kShareEndpointHint);
  }
  if (bundle.lock_name_hint_len > kMaxNameLength ||
      (bundle.lock_name_hint_len != 0 && !IsValidName(bundle.name_view()))) {
    return Fail(why, TextProblem::kShareNameHint);
  }
  size_t o = 0;
  bool room = true;
  auto put = [&](ShareField type, std::span<const uint8_t> value) {
    if (out.size() - o < 3 + value.size()) {
      room = false;
      return;
    }
    out[o++] = static_cast<uint8_t>(type);
    out[o++] = static_cast<uint8_t>(value.size() >> 8);
    out[o++] = static_cast<uint8_t>(value.size());
    if (!value.empty()) std::memcpy(out.data() + o, value.data(), value.size());
    o += value.size();
  };
  if (out.empty()) return StatusCode::kResourceExhausted;
  out[o++] = kShareVersion;
  const auto compressed = lock_key->Compressed();
  put(ShareField::kLockKey, compressed);
  put(ShareField::kChain, bundle.chain_view());
  auto bytes_of = [](std::string_view s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  if (!endpoint.empty()) put(ShareField::kEndpointHint, bytes_of(endpoint));
  if (bundle.lock_name_hint_len != 0) put(ShareField::kLockNameHint, bytes_of(bundle.name_view()));
  if (!room) return StatusCode::kResourceExhausted;
  const auto sum = ShareCheck(out.first(o));
  put(ShareField::kCheck, sum);
  if (!room) return StatusCode::kResourceExhausted;
  return o;
}

Result<ShareBundle> DecodeShare(std::span<const uint8_t> bin, TextError* why) {
  if (bin.empty()) return Fail(why, TextProblem::kEmpty);
  if (bin[0] == 1) return Fail(why, TextProblem::kShareVersion1);
  // The check first: a changed or lost character is named as such, not as
  // whatever field it happened to land in.
  constexpr size_t kTail = 3 + kShareCheckSize;
  if (bin.size() < 1 + kTail || bin[bin.size() - kTail] != static_cast<uint8_t>(ShareField::kCheck) ||
      bin[bin.size() - kTail + 1] != 0 || bin[bin.size() - kTail + 2] != kShareCheckSize) {
    return Fail(why, TextProblem::kShareNoCheck);
  }
  const size_t end = bin.size() - kTail;
  const auto want = ShareCheck(bin.first(end));
  if (std::memcmp(want.data(), bin.data() + end + 3, kShareCheckSize) != 0) {
    return Fail(why, TextProblem::kShareCheckMismatch);
  }
  // (After the check: a changed first character is damage, not a version.)
  if (bin[0] != kShareVersion) return Fail(why, TextProblem::kShareVersion, bin[0]);
  ShareBundle out;
  bool have_key = false, have_chain = false;
  std::optional<crypto::P256PublicKey> lock_key;
  int last_type = 0;
  size_t i = 1;
  while (i < end) {
    if (end - i < 3) return Fail(why, TextProblem::kShareTruncatedHeader);
    const uint8_t type = bin[i];
    const size_t len = (size_t{bin[i + 1]} << 8) | bin[i + 2];
    i += 3;
    if (type < 0x01 || type > 0x04) return Fail(why, TextProblem::kShareUnknownField, type);
    if (type <= last_type) return Fail(why, TextProblem::kShareFieldOrder);
    last_type = type;
    if (end - i < len) return Fail(why, TextProblem::kShareTruncatedField, type);
    const std::span<const uint8_t> value = bin.subspan(i, len);
    i += len;
    switch (static_cast<ShareField>(type)) {
      case ShareField::kLockKey: {
        if (len != crypto::kP256CompressedKeySize) {
          return Fail(why, TextProblem::kShareLockKeyLength, static_cast<uint32_t>(len));
        }
        Result<crypto::P256PublicKey> k = crypto::P256PublicKey::Import(value);
        if (!k.ok()) return Fail(why, TextProblem::kBadPoint);
        lock_key = *k;
        out.lock_key = k->bytes();
        have_key = true;
        break;
      }
      case ShareField::kChain:
        if (len == 0 || len > kMaxChainSize) return Fail(why, TextProblem::kShareChainLength, static_cast<uint32_t>(len));
        std::memcpy(out.chain.data(), value.data(), len);
        out.chain_len = len;
        have_chain = true;
        break;
      case ShareField::kEndpointHint: {
        const std::string_view hint(reinterpret_cast<const char*>(value.data()), len);
        if (hint.empty() || len > kMaxEndpointHint || !IsPrintableAscii(hint)) {
          return Fail(why, TextProblem::kShareEndpointHint);
        }
        std::memcpy(out.endpoint_hint.data(), value.data(), len);
        out.endpoint_hint_len = len;
        break;
      }
      case ShareField::kLockNameHint: {
        const std::string_view name(reinterpret_cast<const char*>(value.data()), len);
        if (!IsValidName(name)) return Fail(why, TextProblem::kShareNameHint);
        std::memcpy(out.lock_name_hint.data(), value.data(), len);
        out.lock_name_hint_len = len;
        break;
      }
      case ShareField::kCheck: break;  // only at the end, verified above
    }
  }
  if (!have_key) return Fail(why, TextProblem::kShareNoLockKey);
  if (!have_chain) return Fail(why, TextProblem::kShareNoChain);
  MORTISE_TRY(CheckShareChain(out.chain_view(), *lock_key, why).status());
  return out;
}

Result<size_t> ShareToText(const ShareBundle& bundle, std::span<char> out, TextError* why) {
  uint8_t bin[kMaxShareBinary];
  MORTISE_ASSIGN_OR_RETURN(const size_t n, EncodeShare(bundle, bin, why));
  return EncodeBody(kShareTextPrefix, std::span<const uint8_t>(bin, n), out);
}

Result<ShareBundle> ShareFromText(std::string_view text, TextError* why) {
  uint8_t bin[kMaxShareBinary + 3];
  MORTISE_ASSIGN_OR_RETURN(const size_t n, DecodeBody(text, kShareTextPrefix, kMaxShareText, bin, why));
  return DecodeShare(std::span<const uint8_t>(bin, n), why);
}

// --- MKT1 -----------------------------------------------------------------------


Result<size_t> TransferToText(const TransferBundle& bundle, std::span<char> out, TextError* why) {
  Result<crypto::P256PublicKey> lock_key = crypto::P256PublicKey::Import(bundle.lock_key);
  if (!lock_key.ok()) return Fail(why, TextProblem::kBadPoint);
  if (bundle.endpoint_hint_len > kMaxEndpointHint || !IsPrintableAscii(bundle.endpoint_view())) {
    return Fail(why, TextProblem::kShareEndpointHint);
  }
  if (bundle.lock_name_hint_len > kMaxNameLength ||
      (bundle.lock_name_hint_len != 0 && !IsValidName(bundle.name_view()))) {
    return Fail(why, TextProblem::kShareNameHint);
  }
  uint8_t bytes[kMaxTransferBinary];
  size_t o = 0;
  bytes[o++] = kTransferTextVersion;
  const auto compressed = lock_key->Compressed();
  std::memcpy(bytes + o, compressed.data(), compressed.size());
  o += compressed.size();
  std::memcpy(bytes + o, bundle.result.data(), kTransferResultSize);
  o += kTransferResultSize;
  bytes[o++] = static_cast<uint8_t>(bundle.endpoint_hint_len);
  if (bundle.endpoint_hint_len != 0) std::memcpy(bytes + o, bundle.endpoint_hint.data(), bundle.endpoint_hint_len);
  o += bundle.endpoint_hint_len;
  bytes[o++] = static_cast<uint8_t>(bundle.lock_name_hint_len);
  if (bundle.lock_name_hint_len != 0) std::memcpy(bytes + o, bundle.lock_name_hint.data(), bundle.lock_name_hint_len);
  o += bundle.lock_name_hint_len;
  const auto check = ShareCheck(std::span<const uint8_t>(bytes, o));
  std::memcpy(bytes + o, check.data(), check.size());
  o += check.size();
  return EncodeBody(kTransferTextPrefix, std::span<const uint8_t>(bytes, o), out);
}

Result<TransferBundle> TransferFromText(std::string_view text, TextError* why) {
  uint8_t bytes[kMaxTransferBinary + 3];
  MORTISE_ASSIGN_OR_RETURN(const size_t n, DecodeBody(text, kTransferTextPrefix, kMaxTransferText, bytes, why));
  constexpr size_t kFixed = 1 + crypto::kP256CompressedKeySize + kTransferResultSize;
  if (n < kFixed + 2 + kShareCheckSize) return Fail(why, TextProblem::kWrongLength, static_cast<uint32_t>(n));
  // The check first: a copying mistake is named as such.
  const auto check = ShareCheck(std::span<const uint8_t>(bytes, n - kShareCheckSize));
  if (std::memcmp(check.data(), bytes + n - kShareCheckSize, kShareCheckSize) != 0) {
    return Fail(why, TextProblem::kShareCheckMismatch);
  }
  if (bytes[0] != kTransferTextVersion) return Fail(why, TextProblem::kUnknownTransferVersion, bytes[0]);
  TransferBundle out;
  Result<crypto::P256PublicKey> key =
      crypto::P256PublicKey::Import(std::span<const uint8_t>(bytes + 1, crypto::kP256CompressedKeySize));
  if (!key.ok()) return Fail(why, TextProblem::kBadPoint);
  out.lock_key = key->bytes();
  std::memcpy(out.result.data(), bytes + 1 + crypto::kP256CompressedKeySize, kTransferResultSize);
  size_t o = kFixed;
  const size_t body = n - kShareCheckSize;
  out.endpoint_hint_len = bytes[o++];
  if (body - o < out.endpoint_hint_len + 1) return Fail(why, TextProblem::kWrongLength, static_cast<uint32_t>(n));
  std::memcpy(out.endpoint_hint.data(), bytes + o, out.endpoint_hint_len);
  o += out.endpoint_hint_len;
  if (!IsPrintableAscii(out.endpoint_view())) return Fail(why, TextProblem::kShareEndpointHint);
  out.lock_name_hint_len = bytes[o++];
  if (out.lock_name_hint_len > kMaxNameLength || body - o != out.lock_name_hint_len) {
    return Fail(why, TextProblem::kWrongLength, static_cast<uint32_t>(n));
  }
  std::memcpy(out.lock_name_hint.data(), bytes + o, out.lock_name_hint_len);
  if (out.lock_name_hint_len != 0 && !IsValidName(out.name_view())) return Fail(why, TextProblem::kShareNameHint);
  return out;
}

}  // namespace mortise::protocol
