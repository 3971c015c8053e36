#include "mortise/uplink/pki.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "mortise/uplink/hex.h"

namespace mortise::uplink {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Req = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Crl = std::unique_ptr<X509_CRL, Deleter<X509_CRL, X509_CRL_free>>;
using Big = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

std::string OpenSslError(const char* what) {
  std::string s = what;
  const unsigned long e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    s += ": ";
    s += buf;
  }
  ERR_clear_error();
  return s;
}

Bio ReadBio(const std::string& pem) { return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

PKey NewKey() { return PKey(EVP_EC_gen("P-256")); }

std::optional<std::string> KeyPem(EVP_PKEY* key, std::string& why) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    why = OpenSslError("cannot encode a private key");
    return std::nullopt;
  }
  return BioText(bio.get());
}

PKey ParseKey(const std::string& pem) {
  Bio bio = ReadBio(pem);
  return PKey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

Cert ParseCert(const std::string& pem) {
  Bio bio = ReadBio(pem);
  return Cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

Req ParseReq(const std::string& pem) {
  Bio bio = ReadBio(pem);
  return Req(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// Signs a certificate for `subject_key` (public part) with `issuer_key`;
// `issuer` null: self-signed.
std::optional<std::string> SignCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                                           EVP_PKEY* issuer_key, std::string& why) {
  Cert cert(X509_new());
  if (!cert) {
    why = OpenSslError("X509_new");
    return std::nullopt;
  }
  X509_set_version(cert.get(), 2);
  // A random 127-bit serial: two certificates of one CA never share one.
  uint8_t serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    why = OpenSslError("RAND_bytes");
    return std::nullopt;
  }
  serial[0] &= 0x7F;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(spec.not_after));
  X509_set_pubkey(cert.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Mortise deployment"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) ok = ok && AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  switch (spec.usage) {
    case Usage::kCa:
      ok = ok && AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
           AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
      break;
    case Usage::kBroker:
      ok = ok && AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
           AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature") &&
           AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
      break;
    case Usage::kClient:
      ok = ok && AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
           AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature") &&
           AddExtension(cert.get(), signer, NID_ext_key_usage, "clientAuth");
      break;
  }
  std::string san;
  for (const auto& d : spec.dns_names) san += (san.empty() ? "" : ",") + ("DNS:" + d);
  for (const auto& ip : spec.ip_addresses) san += (san.empty() ? "" : ",") + ("IP:" + ip);
  if (!san.empty()) ok = ok && AddExtension(cert.get(), signer, NID_subject_alt_name, san);
  if (!ok) {
    why = OpenSslError("cannot add a certificate extension");
    return std::nullopt;
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    why = OpenSslError("X509_sign");
    return std::nullopt;
  }
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) {
    why = OpenSslError("cannot encode a certificate");
    return std::nullopt;
  }
  return BioText(bio.get());
}

// Lowercase hex without leading zeros ("0" for zero).
std::string SerialHex(const ASN1_INTEGER* serial) {
  Big bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return {};
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return {};
  std::string s(hex);
  OPENSSL_free(hex);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t first = s.find_first_not_of('0');
  return first == std::string::npos ? "0" : s.substr(first);
}

bool IsHexText(const std::string& s) {
  return !s.empty() && s.size() <= 40 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::optional<SpkiHash> SpkiHashOfKey(EVP_PKEY* key, std::string& why) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  if (n <= 0) {
    why = OpenSslError("cannot encode the public key");
    return std::nullopt;
  }
  SpkiHash h;
  SHA256(der, static_cast<size_t>(n), h.data());
  OPENSSL_free(der);
  return h;
}

std::optional<Credential> FreshCredential(const CertificateSpec& spec, X509* issuer, EVP_PKEY* issuer_key,
                                          std::string& why) {
  PKey key = NewKey();
  if (!key) {
    why = OpenSslError("cannot generate a P-256 key");
    return std::nullopt;
  }
  auto key_pem = KeyPem(key.get(), why);
  if (!key_pem) return std::nullopt;
  auto cert = SignCertificate(spec, key.get(), issuer, issuer_key ? issuer_key : key.get(), why);
  if (!cert) return std::nullopt;
  return Credential{*key_pem, *cert};
}

}  // namespace

std::optional<std::string> GenerateKey(std::string& why) {
  PKey key = NewKey();
  if (!key) {
    why = OpenSslError("cannot generate a P-256 key");
    return std::nullopt;
  }
  return KeyPem(key.get(), why);
}

std::optional<Credential> MakeCa(const CertificateSpec& spec, std::string& why) {
  if (spec.usage != Usage::kCa) {
    why = "a CA certificate needs Usage::kCa";
    return std::nullopt;
  }
  return FreshCredential(spec, nullptr, nullptr, why);
}

std::optional<Credential> MakeSelfSigned(const CertificateSpec& spec, std::string& why) {
  return FreshCredential(spec, nullptr, nullptr, why);
}

std::optional<Credential> Issue(const Credential& ca, const CertificateSpec& spec, std::string& why) {
  Cert ca_cert = ParseCert(ca.cert_pem);
  PKey ca_key = ParseKey(ca.key_pem);
  if (!ca_cert || !ca_key) {
    why = OpenSslError("cannot read the CA's certificate or key");
    return std::nullopt;
  }
  return FreshCredential(spec, ca_cert.get(), ca_key.get(), why);
}

std::optional<std::string> MakeCsr(const std::string& key_pem, const std::string& common_name, std::string& why) {
  PKey key = ParseKey(key_pem);
  Req req(X509_REQ_new());
  if (!key || !req) {
    why = OpenSslError("cannot read the key");
    return std::nullopt;
  }
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_REQ_set_pubkey(req.get(), key.get());
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) == 0) {
    why = OpenSslError("X509_REQ_sign");
    return std::nullopt;
  }
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    why = OpenSslError("cannot encode the request");
    return std::nullopt;
  }
  return BioText(bio.get());
}

std::vector<uint8_t> BindingMessage(const protocol::LockId& lock_id, const SpkiHash& spki_hash) {
  std::vector<uint8_t> m(kBindingContext, kBindingContext + sizeof(kBindingContext));  // with its 0x00
  m.insert(m.end(), lock_id.begin(), lock_id.end());
  m.insert(m.end(), spki_hash.begin(), spki_hash.end());
  return m;
}

std::optional<SpkiHash> SpkiHashOf(const std::string& pem, std::string& why) {
  if (PKey key = ParseKey(pem)) return SpkiHashOfKey(key.get(), why);
  if (Req req = ParseReq(pem)) {
    PKey key(X509_REQ_get_pubkey(req.get()));
    if (key) return SpkiHashOfKey(key.get(), why);
  }
  if (Cert cert = ParseCert(pem)) {
    PKey key(X509_get_pubkey(cert.get()));
    if (key) return SpkiHashOfKey(key.get(), why);
  }
  ERR_clear_error();
  why = "no key, request or certificate in the PEM text";
  return std::nullopt;
}

std::string LockUsername(const protocol::LockId& lock_id) { return Hex(lock_id); }

std::optional<LockCertificateRequest> MakeLockRequest(const std::string& tls_key_pem,
                                                      const crypto::P256KeyPair& identity,
                                                      crypto::Drbg& drbg, std::string& why) {
  LockCertificateRequest r;
  r.lock_id = protocol::LockIdOf(identity.public_key());
  auto csr = MakeCsr(tls_key_pem, LockUsername(r.lock_id), why);
  if (!csr) return std::nullopt;
  auto spki = SpkiHashOf(tls_key_pem, why);
  if (!spki) return std::nullopt;
  const std::vector<uint8_t> message = BindingMessage(r.lock_id, *spki);
  if (Status s = identity.Sign(message, r.binding, drbg); !s.ok()) {
    why = std::string("the identity key cannot sign: ") + s.name();
    return std::nullopt;
  }
  r.csr_pem = *csr;
  return r;
}

std::string RequestToJson(const LockCertificateRequest& request) {
  nlohmann::json j = {{"lock_id", Hex(request.lock_id)}, {"csr", request.csr_pem}, {"binding", Hex(request.binding)}};
  return j.dump(2) + "\n";
}

std::optional<LockCertificateRequest> RequestFromJson(const std::string& text, std::string& why) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("lock_id") || !j.contains("csr") || !j.contains("binding") ||
      !j["lock_id"].is_string() || !j["csr"].is_string() || !j["binding"].is_string()) {
    why = "not a certificate request (JSON with lock_id, csr and binding)";
    return std::nullopt;
  }
  LockCertificateRequest r;
  r.csr_pem = j["csr"].get<std::string>();
  if (!FromHex(j["lock_id"].get<std::string>(), r.lock_id) || !FromHex(j["binding"].get<std::string>(), r.binding)) {
    why = "lock_id must be 32 and binding 128 hex digits";
    return std::nullopt;
  }
  return r;
}

std::optional<std::string> IssueLockCertificate(const Credential& ca, const LockCertificateRequest& request,
                                                const crypto::P256PublicKey& door_key, int64_t not_before,
                                                int64_t not_after, std::string& why) {
  if (protocol::LockIdOf(door_key) != request.lock_id) {
    why = "the request names another lock than the door's key";
    return std::nullopt;
  }
  Req req = ParseReq(request.csr_pem);
  if (!req) {
    why = OpenSslError("the CSR cannot be read");
    return std::nullopt;
  }
  PKey tls_key(X509_REQ_get_pubkey(req.get()));
  if (!tls_key || X509_REQ_verify(req.get(), tls_key.get()) != 1) {
    why = OpenSslError("the CSR's own signature does not verify");
    return std::nullopt;
  }
  if (EVP_PKEY_get_base_id(tls_key.get()) != EVP_PKEY_EC) {
    why = "the TLS key is not an EC key";
    return std::nullopt;
  }
  auto spki = SpkiHashOfKey(tls_key.get(), why);
  if (!spki) return std::nullopt;
  const std::vector<uint8_t> message = BindingMessage(request.lock_id, *spki);
  if (!door_key.Verify(message, request.binding).ok()) {
    why = "the binding statement does not verify against the door's key";
    return std::nullopt;
  }
  // Only now: the CN is the lock id the door's key names, whatever the CSR's
  // subject said.
  Cert ca_cert = ParseCert(ca.cert_pem);
  PKey ca_key = ParseKey(ca.key_pem);
  if (!ca_cert || !ca_key) {
    why = OpenSslError("cannot read the CA's certificate or key");
    return std::nullopt;
  }
  CertificateSpec spec;
  spec.common_name = LockUsername(request.lock_id);
  spec.usage = Usage::kClient;
  spec.not_before = not_before;
  spec.not_after = not_after;
  return SignCertificate(spec, tls_key.get(), ca_cert.get(), ca_key.get(), why);
}

std::string CommonNameOf(const std::string& cert_pem, std::string& why) {
  Cert cert = ParseCert(cert_pem);
  if (!cert) {
    why = OpenSslError("not a certificate");
    return {};
  }
  char cn[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn)) <= 0) {
    why = "the certificate has no CN";
    return {};
  }
  return cn;
}

std::string SerialOf(const std::string& cert_pem, std::string& why) {
  Cert cert = ParseCert(cert_pem);
  if (!cert) {
    why = OpenSslError("not a certificate");
    return {};
  }
  return SerialHex(X509_get0_serialNumber(cert.get()));
}

int64_t NotAfterOf(const std::string& cert_pem) {
  Cert cert = ParseCert(cert_pem);
  ASN1_TIME* epoch = cert ? ASN1_TIME_set(nullptr, 0) : nullptr;
  int days = 0, seconds = 0;
  const bool ok = epoch != nullptr && ASN1_TIME_diff(&days, &seconds, epoch, X509_get0_notAfter(cert.get())) == 1;
  ASN1_TIME_free(epoch);
  ERR_clear_error();
  return ok ? static_cast<int64_t>(days) * 86400 + seconds : 0;
}

std::optional<std::string> MakeCrl(const Credential& ca, const std::vector<RevokedCertificate>& revoked,
                                   int64_t this_update, int64_t next_update, std::string& why) {
  Cert ca_cert = ParseCert(ca.cert_pem);
  PKey ca_key = ParseKey(ca.key_pem);
  if (!ca_cert || !ca_key) {
    why = OpenSslError("cannot read the CA's certificate or key");
    return std::nullopt;
  }
  Crl crl(X509_CRL_new());
  if (!crl) {
    why = OpenSslError("X509_CRL_new");
    return std::nullopt;
  }
  X509_CRL_set_version(crl.get(), 1);  // v2
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert.get()));
  using Time = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>>;
  Time last(ASN1_TIME_set(nullptr, static_cast<time_t>(this_update)));
  Time next(ASN1_TIME_set(nullptr, static_cast<time_t>(next_update)));
  if (!last || !next || X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    why = OpenSslError("cannot set the CRL's validity");
    return std::nullopt;
  }
  std::string comments;
  for (const RevokedCertificate& r : revoked) {
    if (!IsHexText(r.serial_hex)) {
      why = "serial \"" + r.serial_hex + "\" is not lowercase hex";
      return std::nullopt;
    }
    if (r.identity.empty() || r.identity.find_first_of(" \t\r\n") != std::string::npos) {
      why = "identity \"" + r.identity + "\" is empty or has white space";
      return std::nullopt;
    }
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, r.serial_hex.c_str()) == 0) {
      why = OpenSslError("BN_hex2bn");
      return std::nullopt;
    }
    Big bn(raw);
    X509_REVOKED* entry = X509_REVOKED_new();
    ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn.get(), nullptr);
    Time when(ASN1_TIME_set(nullptr, static_cast<time_t>(r.revoked_at)));
    const bool ok = entry != nullptr && serial != nullptr && when &&
                    X509_REVOKED_set_serialNumber(entry, serial) == 1 &&
                    X509_REVOKED_set_revocationDate(entry, when.get()) == 1 && X509_CRL_add0_revoked(crl.get(), entry) == 1;
    ASN1_INTEGER_free(serial);
    if (!ok) {
      X509_REVOKED_free(entry);
      why = OpenSslError("cannot add a CRL entry");
      return std::nullopt;
    }
    comments += std::string(kCrlCommentPrefix) + r.serial_hex + " " + r.identity + "\n";
  }
  X509_CRL_sort(crl.get());
  // The CRL number increases with each list (RFC 5280 5.2.3): its time.
  using Int = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
  Int number(ASN1_INTEGER_new());
  if (!number || ASN1_INTEGER_set_int64(number.get(), this_update) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1 ||
      X509_CRL_sign(crl.get(), ca_key.get(), EVP_sha256()) == 0) {
    why = OpenSslError("cannot sign the CRL");
    return std::nullopt;
  }
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    why = OpenSslError("cannot encode the CRL");
    return std::nullopt;
  }
  return "# The Mortise deployment's revoked broker certificates (docs/uplink.md \"Revocation\").\n" + comments +
         BioText(bio.get());
}

std::optional<std::vector<RevokedCertificate>> VerifyCrl(const std::string& ca_cert_pem, const std::string& crl_text,
                                                        std::string& why) {
  Cert ca_cert = ParseCert(ca_cert_pem);
  Bio bio = ReadBio(crl_text);
  Crl crl(bio ? PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!ca_cert || !crl) {
    why = OpenSslError(ca_cert ? "no CRL in the text" : "cannot read the CA's certificate");
    return std::nullopt;
  }
  PKey ca_key(X509_get_pubkey(ca_cert.get()));
  if (!ca_key || X509_CRL_verify(crl.get(), ca_key.get()) != 1 ||
      X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca_cert.get())) != 0) {
    why = OpenSslError("the CRL is not signed by this deployment's CA");
    return std::nullopt;
  }
  std::set<std::string> signed_serials;
  const STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; entries != nullptr && i < sk_X509_REVOKED_num(entries); ++i)
    signed_serials.insert(SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i))));
  std::vector<RevokedCertificate> out;
  std::set<std::string> named;
  std::istringstream lines(crl_text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(kCrlCommentPrefix)) continue;
    std::istringstream fields(line.substr(sizeof(kCrlCommentPrefix) - 1));
    RevokedCertificate r;
    if (!(fields >> r.serial_hex >> r.identity) || !signed_serials.contains(r.serial_hex) ||
        !named.insert(r.serial_hex).second) {
      why = "the comment line \"" + line + "\" names no serial the CRL lists, or one twice";
      return std::nullopt;
    }
    out.push_back(std::move(r));
  }
  if (named != signed_serials) {
    why = "the CRL lists serials that no comment line names";
    return std::nullopt;
  }
  return out;
}

bool WriteCrlFile(const std::string& path, const std::string& text, std::string& why) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    why = tmp + ": " + std::strerror(errno);
    return false;
  }
  fchmod(fd, 0644);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = write(fd, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    done += static_cast<size_t>(w);
  }
  const bool written = done == text.size() && fsync(fd) == 0;
  close(fd);
  if (!written || rename(tmp.c_str(), path.c_str()) != 0) {
    why = path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return true;
}

}  // namespace mortise::uplink
