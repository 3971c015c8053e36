// The deployment's broker PKI (docs/uplink.md "Identities"): one CA the
// deployment generates, a certificate for each broker, one for the server,
// and one for each lock, issued only for a TLS key the lock has proved it
// holds with a statement signed by its identity key.
//
// Why a statement: a CSR proves possession of the TLS key, not who asks. A
// lock's broker identity (its certificate's CN, which the broker uses as the
// MQTT username and so as the only topic prefix it may use) must be bound to
// the lock's identity key, which the owner pinned while claiming; otherwise
// whoever sends a CSR naming a lock id could read that lock's commands and
// write its state. The CA signs only after the statement verifies against
// the door's public key as the server stores it.
//
// Linux side (OpenSSL): allocates; errors are a `why` string and an empty
// optional, never an exception.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/identity.h"

namespace mortise::uplink {

// A key pair and its certificate, PEM.
struct Credential {
  std::string key_pem;   // PKCS#8 private key
  std::string cert_pem;
};

// What a certificate is for.
enum class Usage : uint8_t { kCa, kBroker, kClient };

struct CertificateSpec {
  std::string common_name;
  Usage usage = Usage::kClient;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries (brokers)
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries (brokers)
  int64_t not_before = 0;  // UTC seconds
  int64_t not_after = 0;
};

// A fresh P-256 private key, PKCS#8 PEM. nullopt + why on failure.
std::optional<std::string> GenerateKey(std::string& why);

// A self-signed CA (P-256, basicConstraints CA:TRUE, keyCertSign) valid
// over `spec`'s window; `spec.usage` must be kCa.
std::optional<Credential> MakeCa(const CertificateSpec& spec, std::string& why);
// A self-signed certificate of any usage (tests: a broker nobody vouched for).
std::optional<Credential> MakeSelfSigned(const CertificateSpec& spec, std::string& why);
// A fresh key and its certificate signed by `ca`.
std::optional<Credential> Issue(const Credential& ca, const CertificateSpec& spec, std::string& why);

// A PKCS#10 request for `key_pem` (subject CN = `common_name`), PEM.
std::optional<std::string> MakeCsr(const std::string& key_pem, const std::string& common_name, std::string& why);

// The binding statement: the lock's identity key signs
//   "mortise uplink tls key v1" 0x00 || lock id (16) || SHA-256(SPKI DER) (32)
// with ECDSA P-256/SHA-256 (64-byte r||s), where SPKI is the DER
// SubjectPublicKeyInfo of the TLS public key. Nothing else (no time, no
// broker name): the statement says only "this TLS key speaks for this lock",
// and the CA's certificate carries the validity.
inline constexpr char kBindingContext[] = "mortise uplink tls key v1";
using SpkiHash = std::array<uint8_t, 32>;
std::vector<uint8_t> BindingMessage(const protocol::LockId& lock_id, const SpkiHash& spki_hash);
// SHA-256 of the DER SubjectPublicKeyInfo of the public key in `pem` (a
// private key, a CSR or a certificate).
std::optional<SpkiHash> SpkiHashOf(const std::string& pem, std::string& why);

// What a lock hands to registration: its CSR and the statement.
struct LockCertificateRequest {
  protocol::LockId lock_id{};
  std::string csr_pem;
  crypto::P256Signature binding{};
};
// The lock's side: a CSR for its TLS key (CN = the lock id in lowercase
// hex) and the statement its identity key signs.
std::optional<LockCertificateRequest> MakeLockRequest(const std::string& tls_key_pem,
                                                      const crypto::P256KeyPair& identity,
                                                      crypto::Drbg& drbg, std::string& why);
// JSON text of a request: {"lock_id": hex, "csr": PEM, "binding": hex}.
std::string RequestToJson(const LockCertificateRequest& request);
std::optional<LockCertificateRequest> RequestFromJson(const std::string& text, std::string& why);

// The issuing side (the server's registration calls it). Refuses, with
// why, unless: `door_key` is the lock's identity key (its lock id is the
// request's), the CSR's own signature verifies, and the binding statement
// over the CSR's key verifies against `door_key`. Only then does `ca` sign
// a client certificate with CN = the lock id in hex, valid [not_before,
// not_after].
std::optional<std::string> IssueLockCertificate(const Credential& ca, const LockCertificateRequest& request,
                                                const crypto::P256PublicKey& door_key, int64_t not_before,
                                                int64_t not_after, std::string& why);

// The MQTT username (certificate CN) of a lock: 32 lowercase hex digits.
std::string LockUsername(const protocol::LockId& lock_id);
// The server's certificate CN. Not hex, so no lock id can equal it.
inline constexpr char kServerUsername[] = "mortise-server";

// The CN of a PEM certificate ("" with why when it has none).
std::string CommonNameOf(const std::string& cert_pem, std::string& why);

// The serial number of a PEM certificate, lowercase hex without leading
// zeros ("" with why when it is not a certificate).
std::string SerialOf(const std::string& cert_pem, std::string& why);
// The end of a PEM certificate's validity, UTC seconds (0: not a
// certificate).
int64_t NotAfterOf(const std::string& cert_pem);

// --- Revocation (docs/uplink.md "Revocation") ----------------------------
//
// The deployment's certificate revocation list: an X.509 v2 CRL signed by
// the CA's key (the server signs it; the broker loads it with Mosquitto's
// `crlfile` and refuses the listed serials at the TLS handshake). Above
// the PEM block, one comment line per entry names the identity (the CN)
// the serial was issued to: OpenSSL skips text outside PEM blocks, and the
// broker's wrapper needs the identity to disconnect a revoked client that
// is connected now (a CRL names serials only). VerifyCrl checks that the
// comments and the signed entries agree, so the list of identities to
// disconnect is exactly what the CA signed.
struct RevokedCertificate {
  std::string serial_hex;  // lowercase, no leading zeros (SerialOf)
  std::string identity;    // the certificate's CN (a lock id in hex)
  int64_t revoked_at = 0;  // UTC seconds
};
inline constexpr char kCrlCommentPrefix[] = "# mortise-revoked ";
// The CRL text for `revoked`, signed by `ca`, valid [this_update,
// next_update]. nullopt + why: a serial that is not hex, an identity with
// white space or a line break, the CA unreadable.
std::optional<std::string> MakeCrl(const Credential& ca, const std::vector<RevokedCertificate>& revoked,
                                   int64_t this_update, int64_t next_update, std::string& why);
// The entries of a CRL text as its comment lines name them, after checking
// that the CRL's signature verifies with `ca_cert_pem` and that the
// comments name exactly the serials the CRL lists. nullopt + why otherwise.
// Replaces the file at `path` with `text` durably and atomically (a
// temporary beside it, fsync, rename, fsync of the directory; mode 0644:
// the broker reads it as its own user), so a broker never loads half a
// list. False with why.
bool WriteCrlFile(const std::string& path, const std::string& text, std::string& why);
std::optional<std::vector<RevokedCertificate>> VerifyCrl(const std::string& ca_cert_pem, const std::string& crl_text,
                                                        std::string& why);

}  // namespace mortise::uplink
