// The broker PKI: a lock's certificate is issued only for a TLS key its
// identity key vouched for, and always names the lock the door's key names.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/uplink/hex.h"
#include "mortise/uplink/pki.h"

namespace mortise::uplink {
namespace {

constexpr int64_t kNow = 1'780'000'000;

struct Rng {
  explicit Rng(uint64_t seed) : entropy(seed), drbg(entropy) { EXPECT_TRUE(drbg.Seed().ok()); }
  crypto::DeterministicEntropy entropy;
  crypto::Drbg drbg;
};

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto ca = MakeCa(CertificateSpec{"test CA", Usage::kCa, {}, {}, kNow - 60, kNow + 86400}, why);
    ASSERT_TRUE(ca) << why;
    ca_ = *ca;
    auto key = GenerateKey(why);
    ASSERT_TRUE(key) << why;
    tls_key_ = *key;
  }
  crypto::P256KeyPair Identity(uint64_t seed) {
    Rng rng(seed);
    return *crypto::P256KeyPair::Generate(rng.drbg);
  }
  // The lock's request for tls_key_ (test setup; a failure fails the test).
  LockCertificateRequest RequestOf(const crypto::P256KeyPair& identity) {
    std::string why;
    auto r = MakeLockRequest(tls_key_, identity, rng_.drbg, why);
    EXPECT_TRUE(r) << why;
    return r.value_or(LockCertificateRequest{});
  }
  std::optional<std::string> IssueFor(const LockCertificateRequest& r, const crypto::P256PublicKey& door,
                                      std::string& why) {
    return IssueLockCertificate(ca_, r, door, kNow, kNow + 86400, why);
  }
  bool VerifiesAgainstCa(const std::string& cert_pem) {
    BIO* cb = BIO_new_mem_buf(ca_.cert_pem.data(), static_cast<int>(ca_.cert_pem.size()));
    BIO* lb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
    X509* ca = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    X509* leaf = PEM_read_bio_X509(lb, nullptr, nullptr, nullptr);
    EVP_PKEY* ca_key = X509_get_pubkey(ca);
    const bool ok = leaf != nullptr && X509_verify(leaf, ca_key) == 1;
    EVP_PKEY_free(ca_key);
    X509_free(ca);
    X509_free(leaf);
    BIO_free(cb);
    BIO_free(lb);
    return ok;
  }

  Credential ca_;
  std::string tls_key_;
  Rng rng_{5};
};

TEST_F(PkiTest, IssuesACertificateNamingTheLockForAKeyItsIdentityVouchedFor) {
  const crypto::P256KeyPair lock = Identity(1);
  std::string why;
  auto request = std::optional(RequestOf(lock));
  auto cert = IssueFor(*request, lock.public_key(), why);
  ASSERT_TRUE(cert) << why;
  EXPECT_EQ(CommonNameOf(*cert, why), Hex(protocol::LockIdOf(lock.public_key())));
  EXPECT_EQ(LockUsername(request->lock_id).size(), 32u);
  EXPECT_TRUE(VerifiesAgainstCa(*cert));
  // The certificate is for the TLS key the lock holds.
  EXPECT_EQ(SpkiHashOf(*cert, why), SpkiHashOf(tls_key_, why));
}

TEST_F(PkiTest, A10_AStatementSignedByAnotherKeyGetsNoCertificate) {
  const crypto::P256KeyPair lock = Identity(1), attacker = Identity(2);
  std::string why;
  auto request = MakeLockRequest(tls_key_, attacker, rng_.drbg, why);
  ASSERT_TRUE(request) << why;
  request->lock_id = protocol::LockIdOf(lock.public_key());  // claims the victim's id
  EXPECT_FALSE(IssueFor(*request, lock.public_key(), why));
  EXPECT_NE(why.find("binding statement"), std::string::npos) << why;
}

TEST_F(PkiTest, A10_AStatementForAnotherTlsKeyGetsNoCertificate) {
  // The lock vouched for its own key; an attacker swaps in a CSR of theirs.
  const crypto::P256KeyPair lock = Identity(1);
  std::string why;
  auto request = std::optional(RequestOf(lock));
  auto other_key = GenerateKey(why);
  ASSERT_TRUE(other_key);
  request->csr_pem = *MakeCsr(*other_key, LockUsername(request->lock_id), why);
  EXPECT_FALSE(IssueFor(*request, lock.public_key(), why));
  EXPECT_NE(why.find("binding statement"), std::string::npos) << why;
}

TEST_F(PkiTest, A10_ARequestForAnotherDoorGetsNoCertificate) {
  const crypto::P256KeyPair lock = Identity(1), other_door = Identity(3);
  std::string why;
  auto request = std::optional(RequestOf(lock));
  EXPECT_FALSE(IssueFor(*request, other_door.public_key(), why));
  EXPECT_NE(why.find("another lock"), std::string::npos) << why;
}

TEST_F(PkiTest, A10_AFlippedStatementBitGetsNoCertificate) {
  const crypto::P256KeyPair lock = Identity(1);
  std::string why;
  auto request = std::optional(RequestOf(lock));
  request->binding[10] ^= 1;
  EXPECT_FALSE(IssueFor(*request, lock.public_key(), why));
}

TEST_F(PkiTest, A10_TheCsrsSubjectNamesNothing) {
  // A CSR asking to be the server (or another lock) still gets a
  // certificate naming only the lock whose key vouched for it.
  const crypto::P256KeyPair lock = Identity(1);
  std::string why;
  auto request = std::optional(RequestOf(lock));
  request->csr_pem = *MakeCsr(tls_key_, kServerUsername, why);
  auto cert = IssueFor(*request, lock.public_key(), why);
  ASSERT_TRUE(cert) << why;
  EXPECT_EQ(CommonNameOf(*cert, why), LockUsername(request->lock_id));
}

TEST_F(PkiTest, RequestsTravelAsJsonAndMalformedOnesAreRefused) {
  const crypto::P256KeyPair lock = Identity(1);
  std::string why;
  auto request = std::optional(RequestOf(lock));
  auto back = RequestFromJson(RequestToJson(*request), why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->lock_id, request->lock_id);
  EXPECT_EQ(back->binding, request->binding);
  EXPECT_EQ(back->csr_pem, request->csr_pem);
  EXPECT_FALSE(RequestFromJson("{}", why));
  EXPECT_FALSE(RequestFromJson("not json", why));
  EXPECT_FALSE(RequestFromJson(R"({"lock_id":"00","csr":"x","binding":"00"})", why));
}

TEST_F(PkiTest, ARevocationListNamesItsIdentitiesAndAnEditedOneIsRefused) {
  std::string why;
  auto issued = Issue(ca_, CertificateSpec{"0011aa", Usage::kClient, {}, {}, kNow - 60, kNow + 3600}, why);
  ASSERT_TRUE(issued) << why;
  const std::string serial = SerialOf(issued->cert_pem, why);
  ASSERT_FALSE(serial.empty()) << why;
  EXPECT_NE(serial[0], '0');
  auto crl = MakeCrl(ca_, {{serial, "0011aa", kNow}, {"1f", "0022bb", kNow}}, kNow, kNow + 86400, why);
  ASSERT_TRUE(crl) << why;
  auto entries = VerifyCrl(ca_.cert_pem, *crl, why);
  ASSERT_TRUE(entries) << why;
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].serial_hex, serial);
  EXPECT_EQ((*entries)[0].identity, "0011aa");
  // The signed entries and the identities must agree: a comment line for a
  // serial the CA did not sign, or a signed serial no line names, is refused.
  std::string extra = *crl;
  extra.insert(0, std::string(kCrlCommentPrefix) + "abc 0033cc\n");
  EXPECT_FALSE(VerifyCrl(ca_.cert_pem, extra, why));
  std::string missing = *crl;
  missing.erase(missing.find(kCrlCommentPrefix), missing.find('\n', missing.find(kCrlCommentPrefix)) + 1 -
                                                     missing.find(kCrlCommentPrefix));
  EXPECT_FALSE(VerifyCrl(ca_.cert_pem, missing, why));
  // Another CA's list is refused; bad input is refused before signing.
  auto other = MakeCa(CertificateSpec{"other CA", Usage::kCa, {}, {}, kNow - 60, kNow + 86400}, why);
  ASSERT_TRUE(other) << why;
  EXPECT_FALSE(VerifyCrl(other->cert_pem, *crl, why));
  EXPECT_FALSE(MakeCrl(ca_, {{"XYZ", "0011aa", kNow}}, kNow, kNow + 86400, why));
  EXPECT_FALSE(MakeCrl(ca_, {{"12", "two words", kNow}}, kNow, kNow + 86400, why));
  // An empty list verifies (the broker's first).
  auto empty = MakeCrl(ca_, {}, kNow, kNow + 86400, why);
  ASSERT_TRUE(empty) << why;
  auto none = VerifyCrl(ca_.cert_pem, *empty, why);
  ASSERT_TRUE(none) << why;
  EXPECT_TRUE(none->empty());
}

TEST(Hex, RoundTripsAndRefusesOddOrForeignText) {
  const std::array<uint8_t, 3> bytes{0x00, 0xAB, 0x7F};
  EXPECT_EQ(Hex(bytes), "00ab7f");
  std::array<uint8_t, 3> out{};
  EXPECT_TRUE(FromHex("00AB7f", out));
  EXPECT_EQ(out, bytes);
  EXPECT_FALSE(FromHex("00ab7", out));
  EXPECT_FALSE(FromHex("00ab7g", out));
}

}  // namespace
}  // namespace mortise::uplink
