// Canonical encoding (docs/protocol.md section 3.3): each signed object has
// exactly one accepted encoding. A valid object re-encoded in any other way
// that protobuf itself would accept (an explicit default, a duplicated or
// out-of-order field, an over-long varint, a trailing byte, an unknown
// field) is refused by the decoders, even when correctly signed, so a
// second encoder that follows the rules produces the lock's bytes and
// nothing else verifies.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "mortise/protocol/access_list.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/revalidation.h"
#include "test_util.h"

namespace mortise::protocol {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::Fields;
using testing::Issue;
using testing::SeededDrbg;

// One protobuf field as it appears on the wire: its number and its whole
// encoding (tag included).
struct Field {
  uint32_t number;
  Bytes raw;
};

uint64_t Varint(const Bytes& b, size_t& i) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t x = b.at(i++);
    v |= static_cast<uint64_t>(x & 0x7F) << shift;
    if ((x & 0x80) == 0) return v;
  }
}

std::vector<Field> Split(const Bytes& b) {
  std::vector<Field> out;
  size_t i = 0;
  while (i < b.size()) {
    const size_t start = i;
    const uint64_t key = Varint(b, i);
    switch (key & 7) {
      case 0: Varint(b, i); break;
      case 1: i += 8; break;
      case 2: i += Varint(b, i); break;
      case 5: i += 4; break;
      default: ADD_FAILURE() << "wire type " << (key & 7); return out;
    }
    out.push_back(Field{static_cast<uint32_t>(key >> 3), Bytes(b.begin() + static_cast<long>(start), b.begin() + static_cast<long>(i))});
  }
  return out;
}

Bytes Join(const std::vector<Field>& fields) {
  Bytes out;
  for (const Field& f : fields) out.insert(out.end(), f.raw.begin(), f.raw.end());
  return out;
}

// The value of a signed envelope's first field (its tbs).
Bytes FirstFieldValue(const Bytes& envelope) {
  const Bytes raw = Split(envelope).at(0).raw;
  size_t i = 1;
  const uint64_t len = Varint(raw, i);
  return Bytes(raw.begin() + static_cast<long>(i), raw.begin() + static_cast<long>(i + len));
}

Bytes LengthDelimited(uint8_t key, const Bytes& value) {
  Bytes out{key};
  size_t n = value.size();
  do {
    out.push_back(static_cast<uint8_t>((n & 0x7F) | (n > 0x7F ? 0x80 : 0)));
    n >>= 7;
  } while (n != 0);
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

// The alterations of a valid encoding that protobuf parsers accept and the
// canonical rules forbid.
std::vector<std::pair<const char*, Bytes>> NonCanonical(const Bytes& valid) {
  std::vector<Field> f = Split(valid);
  std::vector<std::pair<const char*, Bytes>> out;
  {
    std::vector<Field> g = f;
    std::swap(g[0], g[1]);
    out.emplace_back("fields out of order", Join(g));
  }
  {
    std::vector<Field> g = f;
    g.insert(g.begin() + 1, g[1]);
    out.emplace_back("a field repeated", Join(g));
  }
  {
    // The first field's tag written as a two-byte varint.
    Bytes b = valid;
    b[0] |= 0x80;
    b.insert(b.begin() + 1, 0x00);
    out.emplace_back("an over-long tag varint", b);
  }
  {
    Bytes b = valid;
    b.push_back(0x00);
    out.emplace_back("a trailing byte", b);
  }
  {
    std::vector<Field> g = f;
    g.push_back(Field{99, Bytes{0xF8, 0x06, 0x01}});  // field 99, varint 1
    out.emplace_back("an unknown field", Join(g));
  }
  return out;
}

class CanonicalEncodingTest : public ::testing::Test {
 protected:
  CanonicalEncodingTest() : rng_(41), owner_(testing::NewKey(rng_.drbg)), guest_(testing::NewKey(rng_.drbg)) {
    lock_id_.fill(0x17);
  }
  SeededDrbg rng_;
  crypto::P256KeyPair owner_, guest_;
  LockId lock_id_{};
};

TEST_F(CanonicalEncodingTest, CertificateDecoderRefusesEveryOtherEncodingOfAValidCertificate) {
  CertificateFields fields = Fields(lock_id_, guest_, Role::kGuest, kPermUnlock, 0x1122334455667788ull);
  fields.max_uses = 3;
  const Bytes cert = Issue(fields, owner_, rng_.drbg);
  ASSERT_TRUE(DecodeCertificate(cert).ok());
  for (const auto& [what, bytes] : NonCanonical(cert)) {
    EXPECT_EQ(DecodeCertificate(bytes).status().code(), StatusCode::kInvalidArgument) << what;
  }
  // Inside the signed part, re-signed so only the encoding is wrong.
  const Bytes tbs = FirstFieldValue(cert);
  std::vector<std::pair<const char*, Bytes>> inner = NonCanonical(tbs);
  {
    // An explicit default: remote_only = false (field 10) in its place.
    std::vector<Field> g = Split(tbs);
    size_t at = 0;
    while (at < g.size() && g[at].number < 10) ++at;
    g.insert(g.begin() + static_cast<long>(at), Field{10, Bytes{0x50, 0x00}});
    inner.emplace_back("an explicit default", Join(g));
  }
  {
    // serial (fixed64, field 11) is fine; max_uses = 3 as an over-long varint.
    std::vector<Field> g = Split(tbs);
    for (Field& x : g) {
      if (x.number == 9) x.raw = Bytes{0x48, 0x83, 0x00};
    }
    inner.emplace_back("an over-long value varint", Join(g));
  }
  for (const auto& [what, bad_tbs] : inner) {
    const crypto::P256Signature sig = testing::DomainSign("mortise-cert-v1", bad_tbs, owner_, rng_.drbg);
    Bytes bad = LengthDelimited(0x0A, bad_tbs);
    const Bytes s = LengthDelimited(0x12, Bytes(sig.begin(), sig.end()));
    bad.insert(bad.end(), s.begin(), s.end());
    EXPECT_EQ(DecodeCertificate(bad).status().code(), StatusCode::kInvalidArgument) << "tbs: " << what;
  }
}

TEST_F(CanonicalEncodingTest, AccessListRefusesEveryOtherEncodingEvenWhenSigned) {
  AccessListState state = testing::ListAt(5);
  state.revoked[state.revoked_count++] = KeyRef{KeyIdOf(owner_.public_key()), 77};
  Bytes update(kMaxAccessListUpdateSize);
  Result<size_t> n = SignAccessList(state, lock_id_, owner_, rng_.drbg, update);
  ASSERT_TRUE(n.ok());
  update.resize(*n);
  ASSERT_TRUE(VerifyAccessList(update, lock_id_, testing::kGeneration, owner_.public_key()).ok());
  for (const auto& [what, bytes] : NonCanonical(update)) {
    EXPECT_EQ(VerifyAccessList(bytes, lock_id_, testing::kGeneration, owner_.public_key()).status().code(),
              StatusCode::kInvalidArgument)
        << what;
  }
  const Bytes tbs = FirstFieldValue(update);
  for (const auto& [what, bad_tbs] : NonCanonical(tbs)) {
    const crypto::P256Signature sig = testing::DomainSign("mortise-acl-v1", bad_tbs, owner_, rng_.drbg);
    Bytes bad = LengthDelimited(0x0A, bad_tbs);
    const Bytes s = LengthDelimited(0x12, Bytes(sig.begin(), sig.end()));
    bad.insert(bad.end(), s.begin(), s.end());
    EXPECT_EQ(VerifyAccessList(bad, lock_id_, testing::kGeneration, owner_.public_key()).status().code(),
              StatusCode::kInvalidArgument)
        << "tbs: " << what;
  }
}

TEST_F(CanonicalEncodingTest, RevalidationTokenDecoderRefusesEveryOtherEncoding) {
  RevalidationFields f;
  f.lock_id = lock_id_;
  f.serial = 5;
  f.holder_key_id = KeyIdOf(guest_.public_key());
  f.issued_at = testing::kNoon;
  Bytes token(kMaxRevalidationTokenSize);
  Result<size_t> n = IssueRevalidationToken(f, owner_, {}, rng_.drbg, token);
  ASSERT_TRUE(n.ok());
  token.resize(*n);
  ASSERT_TRUE(DecodeRevalidationToken(token).ok());
  for (const auto& [what, bytes] : NonCanonical(token)) {
    EXPECT_EQ(DecodeRevalidationToken(bytes).status().code(), StatusCode::kInvalidArgument) << what;
  }
}

}  // namespace
}  // namespace mortise::protocol
