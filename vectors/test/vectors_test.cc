// The checked-in vectors: (a) the generator writes them again byte for byte;
// (b) each one decodes and verifies with the library's public functions,
// read from the file alone, as a second implementation would read it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "mortise/core/offline_pin.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/hash.h"
#include "mortise/crypto/kdf.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/claim.h"
#include "mortise/protocol/custody.h"
#include "mortise/protocol/group_membership.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/permissions.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/protocol/text_forms.h"
#include "mortise/store/audit_log.h"
#include "vectors.h"

namespace mortise::vectors {
namespace {

namespace fs = std::filesystem;
using protocol::CertificateFields;

const fs::path kDir = MORTISE_VECTORS_DIR;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Json Load(std::string_view file) { return Json::parse(ReadFile(kDir / std::string(file))); }

Bytes H(const Json& j) { return FromHex(j.get<std::string>()); }
uint64_t U(const Json& j) { return std::stoull(j.get<std::string>()); }

crypto::P256PublicKey Key(const Json& hex) {
  Result<crypto::P256PublicKey> k = crypto::P256PublicKey::Import(H(hex));
  EXPECT_TRUE(k.ok());
  return *k;
}

protocol::LockId LockIdFrom(const Json& hex) {
  protocol::LockId id{};
  const Bytes b = H(hex);
  EXPECT_EQ(b.size(), id.size());
  std::copy(b.begin(), b.end(), id.begin());
  return id;
}

// A signature reproduces from its tbs, the signer's fixed key and the given
// k' (RFC 6979 with additional data), and verifies with the public key.
void ExpectSignature(const Json& obj, std::string_view domain, std::string_view signer) {
  const Bytes tbs = H(obj["tbs"]);
  const Bytes sig = H(obj["signature"]);
  const std::array<uint8_t, 32> digest = DomainDigest(domain, tbs);
  const crypto::P256KeyPair key = FixedKey(signer);
  EXPECT_TRUE(key.public_key().VerifyDigest(digest, sig).ok()) << signer;
  if (obj.contains("signature_nonce_input")) {
    crypto::P256Signature again{};
    ASSERT_TRUE(key.SignDigestWithNonceInput(digest, H(obj["signature_nonce_input"]), again).ok());
    EXPECT_EQ(Bytes(again.begin(), again.end()), sig);
  }
}

// A certificate entry: its parts, its signature (reproduced from k') and
// its decoded fields.
void ExpectCertificate(const Json& c, std::string_view domain = "mortise-cert-v1") {
  const Bytes cert = H(c["certificate"]);
  const Signed s = SplitSigned(cert);
  EXPECT_EQ(Hex(s.tbs), c["tbs"]);
  EXPECT_EQ(Hex(s.signature), c["signature"]);
  ExpectSignature(c, domain, c["issuer"].get<std::string>());
  Result<CertificateFields> f = protocol::DecodeCertificate(cert);
  ASSERT_TRUE(f.ok());
  const Json& want = c["fields"];
  EXPECT_EQ(Hex(f->lock_id), want["lock_id"]);
  EXPECT_EQ(Hex(f->holder_key), want["holder_key"]);
  EXPECT_EQ(static_cast<int>(f->role), want["role"]);
  EXPECT_EQ(f->permissions, want["permissions"]);
  EXPECT_EQ(f->not_before, want["not_before"]);
  EXPECT_EQ(f->not_after, want["not_after"]);
  EXPECT_EQ(f->schedule.has_value(), !want["schedule"].is_null());
  if (f->schedule) {
    EXPECT_EQ(f->schedule->days_mask, want["schedule"]["days_mask"]);
    EXPECT_EQ(f->schedule->start_minute, want["schedule"]["start_minute"]);
    EXPECT_EQ(f->schedule->end_minute, want["schedule"]["end_minute"]);
  }
  EXPECT_EQ(f->max_uses, want["max_uses"]);
  EXPECT_EQ(f->remote_only, want["remote_only"]);
  EXPECT_EQ(f->serial, U(want["serial"]));
  EXPECT_EQ(Hex(f->issuer_key_id), want["issuer_key_id"]);
  EXPECT_EQ(f->issuer_epoch, want["issuer_epoch"]);
  EXPECT_EQ(f->revalidation_max_age, want["revalidation_max_age"]);
  EXPECT_EQ(f->claim_generation, want["claim_generation"]);
  EXPECT_EQ(f->parent_serial, U(want["parent_serial"]));
  EXPECT_EQ(static_cast<int>(f->scope), want["scope"]);
  EXPECT_EQ(f->group_id, U(want["group_id"]));
}

// The context a lock of the file checks keys in: its id, owner, claim and time.
protocol::VerifyContext ContextOf(const Json& j, const crypto::P256PublicKey& owner) {
  protocol::VerifyContext ctx;
  ctx.lock_id = LockIdFrom(j["lock_id"]);
  ctx.owner = &owner;
  ctx.utc_now = j["verify_at"].get<int64_t>();
  ctx.claim_generation = j["claim_generation"];
  return ctx;
}

// A chain entry: its MK1 text decodes to it, and VerifyChain grants what it says in `ctx`.
void ExpectChain(const Json& c, const protocol::VerifyContext& ctx) {
  const Bytes chain = H(c["chain"]);
  Bytes from_text(protocol::kMaxChainSize);
  Result<size_t> n = protocol::ChainFromText(c["text"].get<std::string>(), from_text);
  ASSERT_TRUE(n.ok());
  from_text.resize(*n);
  EXPECT_EQ(from_text, chain);
  Result<protocol::VerifiedKey> k = protocol::VerifyChain(chain, ctx);
  ASSERT_TRUE(k.ok()) << k.status().name();
  EXPECT_EQ(static_cast<int>(k->grant.role), c["expect"]["role"]);
  EXPECT_EQ(k->grant.permissions, c["expect"]["permissions"]);
  EXPECT_EQ(k->depth, c["expect"]["depth"]);
  EXPECT_EQ(Hex(k->holder_key), Hex(FixedKey(c["holder"].get<std::string>()).public_key().Compressed()));
}

// --- (a) byte for byte --------------------------------------------------------------

TEST(VectorsTest, EveryCheckedInFileIsWhatTheGeneratorWritesByteForByte) {
  for (const VectorKind& kind : Kinds()) {
    const fs::path path = kDir / std::string(kind.file);
    ASSERT_TRUE(fs::exists(path)) << path << ": run the vectors-regenerate target";
    EXPECT_EQ(ReadFile(path), Render(kind.make()))
        << kind.file << " differs from what the generator writes (a format changed: regenerate and review)";
  }
}

TEST(VectorsTest, TheGeneratorIsDeterministic) {
  for (const VectorKind& kind : Kinds()) EXPECT_EQ(Render(kind.make()), Render(kind.make())) << kind.file;
}

TEST(VectorsTest, EveryJsonFileInTheFolderHasAGenerator) {
  std::set<std::string> known;
  for (const VectorKind& kind : Kinds()) known.insert(std::string(kind.file));
  for (const fs::directory_entry& e : fs::directory_iterator(kDir)) {
    if (e.path().extension() == ".json") {
      EXPECT_TRUE(known.count(e.path().filename().string())) << e.path();
    }
  }
}

// --- (b) decoded and verified -------------------------------------------------------

TEST(VectorsTest, KeysMatchTheirScalarsAndTheLabelParses) {
  const Json j = Load("keys.json");
  for (const Json& k : j["keys"]) {
    Result<crypto::P256KeyPair> pair = crypto::P256KeyPair::FromPrivateScalar(H(k["private_scalar"]));
    ASSERT_TRUE(pair.ok());
    EXPECT_EQ(Hex(pair->public_key().bytes()), k["public_key"]);
    EXPECT_EQ(Hex(pair->public_key().Compressed()), k["compressed"]);
    EXPECT_EQ(Hex(protocol::KeyIdOf(pair->public_key())), k["key_id"]);
    if (k.contains("text")) {
      Result<crypto::P256PublicKey> parsed = protocol::PublicKeyFromText(k["text"].get<std::string>());
      ASSERT_TRUE(parsed.ok());
      EXPECT_EQ(*parsed, pair->public_key());
    }
    if (k["name"] == "lock") {
      EXPECT_EQ(Hex(protocol::LockIdOf(pair->public_key())), j["lock_id"]);
    }
  }
  Result<protocol::ClaimLabel> label = protocol::ParseLabel(j["claim_label"]["text"].get<std::string>());
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(Hex(label->lock_id), j["claim_label"]["lock_id"]);
  EXPECT_EQ(Hex(label->key_hash), j["claim_label"]["key_hash"]);
  EXPECT_EQ(label->setup_code, j["claim_label"]["setup_code"]);
}

TEST(VectorsTest, CertificatesDecodeToTheirFieldsAndChainsVerify) {
  const Json j = Load("certificates.json");
  const crypto::P256PublicKey owner = Key(j["owner_key"]);
  for (const Json& c : j["certificates"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    ExpectCertificate(c, j["domain"].get<std::string>());
  }
  const protocol::VerifyContext ctx = ContextOf(j, owner);
  for (const Json& c : j["chains"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    ExpectChain(c, ctx);
  }
  for (const Json& s : j["shares"]) {
    Result<protocol::ShareBundle> p = protocol::ShareFromText(s["text"].get<std::string>());
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(Hex(p->chain_view()), j["chains"][0]["chain"]);
    EXPECT_EQ(Hex(crypto::P256PublicKey::Import(p->lock_key)->Compressed()), s["lock_key"]);
    EXPECT_EQ(p->endpoint_view(), s["endpoint_hint"].get<std::string>());
    EXPECT_EQ(p->name_view(), s["lock_name_hint"].get<std::string>());
    Result<protocol::ShareBundle> from_bytes = protocol::DecodeShare(H(s["bundle"]));
    ASSERT_TRUE(from_bytes.ok());
    EXPECT_EQ(Hex(from_bytes->chain_view()), j["chains"][0]["chain"]);
  }
}

TEST(VectorsTest, AccessListsVerifyToTheirStates) {
  const Json j = Load("access_lists.json");
  const crypto::P256PublicKey owner = Key(j["owner_key"]);
  for (const Json& l : j["lists"]) {
    SCOPED_TRACE(l["name"].get<std::string>());
    ExpectSignature(l, j["domain"].get<std::string>(), l["signer"].get<std::string>());
    Result<protocol::AccessListState> s =
        protocol::VerifyAccessList(H(l["update"]), LockIdFrom(j["lock_id"]), j["claim_generation"], owner);
    ASSERT_TRUE(s.ok()) << s.status().name();
    const Json& want = l["state"];
    EXPECT_EQ(s->version, U(want["version"]));
    EXPECT_EQ(s->claim_generation, want["claim_generation"]);
    EXPECT_EQ(s->by_admin, l["signer"] == "admin");
    ASSERT_EQ(s->revoked_count, want["revoked"].size());
    for (size_t i = 0; i < s->revoked_count; ++i) {
      EXPECT_EQ(Hex(s->revoked[i].issuer), want["revoked"][i]["issuer_key_id"]);
      EXPECT_EQ(s->revoked[i].serial, U(want["revoked"][i]["serial"]));
    }
    ASSERT_EQ(s->epoch_count, want["min_epochs"].size());
    for (size_t i = 0; i < s->epoch_count; ++i) {
      EXPECT_EQ(Hex(s->epochs[i].issuer), want["min_epochs"][i]["issuer_key_id"]);
      EXPECT_EQ(s->epochs[i].min_epoch, want["min_epochs"][i]["min_epoch"]);
    }
    ASSERT_EQ(s->disabled_count, want["disabled"].size());
  }
}

TEST(VectorsTest, RevalidationTokensDecodeAndLetTheirChainVerify) {
  const Json j = Load("revalidation.json");
  const crypto::P256PublicKey owner = Key(j["owner_key"]);
  protocol::VerifyContext ctx = ContextOf(j, owner);
  const Bytes chain = H(j["chain"]);
  EXPECT_EQ(protocol::VerifyChain(chain, ctx).status().code(), StatusCode::kPermissionDenied);  // demands a token
  for (const Json& t : j["tokens"]) {
    SCOPED_TRACE(t["name"].get<std::string>());
    ExpectSignature(t, j["domain"].get<std::string>(), t["signer"].get<std::string>());
    const Bytes token = H(t["token"]);
    Bytes from_text(protocol::kMaxRevalidationTextSize);
    Result<size_t> n = protocol::RevalidationTokenFromText(t["text"].get<std::string>(), from_text);
    ASSERT_TRUE(n.ok());
    from_text.resize(*n);
    EXPECT_EQ(from_text, token);
    Result<protocol::RevalidationTokenInfo> info = protocol::DecodeRevalidationToken(token);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->fields.serial, U(t["fields"]["serial"]));
    EXPECT_EQ(info->fields.issued_at, t["fields"]["issued_at"]);
    EXPECT_EQ(Hex(info->fields.holder_key_id), t["fields"]["holder_key_id"]);
    EXPECT_EQ(info->issuer.has_value(), t["signer"] != "owner");
    Result<protocol::VerifiedKey> k = protocol::VerifyChain(chain, token, ctx);
    ASSERT_TRUE(k.ok()) << k.status().name();
    ASSERT_TRUE(k->revalidated_until.has_value());
    EXPECT_EQ(*k->revalidated_until, t["fields"]["issued_at"].get<uint64_t>() + 86400);
  }
}

TEST(VectorsTest, RemoteEnvelopeOpensItsPinAndTheResultIsTheLocks) {
  const Json j = Load("remote.json");
  const Json& d = j["derived"];
  const crypto::P256PublicKey lock_key = Key(j["lock_key"]);
  // The PIN key from the ephemeral scalar and the lock's public key.
  Result<crypto::P256KeyPair> eph = crypto::P256KeyPair::FromPrivateScalar(H(d["pin_ephemeral_scalar"]));
  ASSERT_TRUE(eph.ok());
  EXPECT_EQ(Hex(eph->public_key().bytes()), d["pin_ephemeral"]);
  EXPECT_EQ(Hex(crypto::Sha256::Hash(H(j["envelope"]["tbs"]))), j["result"]["command_hash"]);
  const Bytes nonce = H(d["nonce"]);
  Bytes pin_key(16);
  ASSERT_TRUE(crypto::HkdfSha256(nonce, H(d["shared_secret"]),
                                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("mortise-remote-pin-v1"), 21),
                                 pin_key)
                  .ok());
  EXPECT_EQ(Hex(pin_key), d["pin_key"]);
  const Bytes sealed = H(d["sealed_pin"]);
  Bytes pin(sealed.size() - 16);
  ASSERT_TRUE(crypto::AesCcm128(std::span<const uint8_t, 16>(pin_key.data(), 16))
                  .Open(std::span<const uint8_t>(nonce).first(13), H(d["pin_aad"]), sealed, pin)
                  .ok());
  EXPECT_EQ(std::string(pin.begin(), pin.end()), j["command"]["pin"]);
  // The envelope is the holder's, the result the lock's.
  const Signed env = SplitSigned(H(j["envelope"]["envelope"]));
  EXPECT_EQ(Hex(env.tbs), j["envelope"]["tbs"]);
  EXPECT_TRUE(Key(j["holder_key"]).VerifyDigest(DomainDigest(j["command_domain"].get<std::string>(), env.tbs),
                                                   env.signature).ok());
  const Signed res = SplitSigned(H(j["result"]["result"]));
  EXPECT_TRUE(lock_key.VerifyDigest(DomainDigest(j["result_domain"].get<std::string>(), res.tbs), res.signature).ok());
  EXPECT_EQ(j["result"]["envelope_status"], 0);
  EXPECT_EQ(j["result"]["response_status"], 0);
}

TEST(VectorsTest, SessionKeyScheduleOpensEverySealedField) {
  const Json j = Load("session.json");
  const Json& f = j["fields"];
  const Json& d = j["derived"];
  Result<crypto::P256KeyPair> eph = crypto::P256KeyPair::FromPrivateScalar(H(d["client_ephemeral_scalar"]));
  ASSERT_TRUE(eph.ok());
  EXPECT_EQ(Hex(eph->public_key().bytes()), f["client_ephemeral"]);
  // The lock signed TH; the holder's key signed TH2 inside the identity.
  const Bytes th = H(d["th"]);
  Bytes lock_msg = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 's', 'e', 's', 's', 'i', 'o', 'n', '-',
                    'l', 'o', 'c', 'k', '-', 'v', '2', 0};
  lock_msg.insert(lock_msg.end(), th.begin(), th.end());
  EXPECT_TRUE(Key(j["lock_key"]).Verify(lock_msg, H(f["lock_signature"])).ok());
  Bytes th2_in = th;
  const Bytes sig = H(f["lock_signature"]);
  th2_in.insert(th2_in.end(), sig.begin(), sig.end());
  EXPECT_EQ(Hex(crypto::Sha256::Hash(th2_in)), d["th2"]);
  // The identity opens under K_id with the cookie as AAD and carries the chain.
  Bytes nonce(13, 0);
  nonce[0] = 0x03;
  const Bytes sealed_id = H(f["sealed_identity"]);
  Bytes identity(sealed_id.size() - 16);
  const Bytes kid = H(d["k_id"]);
  ASSERT_TRUE(crypto::AesCcm128(std::span<const uint8_t, 16>(kid.data(), 16))
                  .Open(nonce, H(f["cookie"]), sealed_id, identity)
                  .ok());
  EXPECT_EQ(Hex(identity), d["identity"]);
  const std::string chain = j["chain"].get<std::string>();
  EXPECT_NE(Hex(identity).find(chain), std::string::npos);
  // Every message is what the file says it is.
  EXPECT_NE(j["messages"]["s2_accept"].get<std::string>().find(f["cookie"].get<std::string>()), std::string::npos);
  EXPECT_NE(j["messages"]["s3_finish"].get<std::string>().find(f["sealed_identity"].get<std::string>()),
            std::string::npos);
  // Requests and responses open under K_c2l / K_l2c as documented.
  const Bytes c2l = H(d["k_c2l"]), l2c = H(d["k_l2c"]), sid = H(d["session_id"]);
  for (size_t i = 0; i < 2; ++i) {
    const Json& q = j["requests"][i];
    const Json& r = j["responses"][i];
    const uint32_t n = q["counter"];
    EXPECT_EQ(r["counter"], n);
    Bytes aad = sid;
    for (int b = 0; b < 4; ++b) aad.push_back(static_cast<uint8_t>(n >> (8 * b)));
    const Bytes tag = H(q["tag"]);
    aad.insert(aad.end(), tag.begin(), tag.end());
    Bytes rnonce(13, 0);
    rnonce[0] = 0x02;
    rnonce[4] = static_cast<uint8_t>(n);
    // The response's sealed bytes are the tail of its message.
    const Bytes plain = H(r["response"]);
    Bytes sealed(plain.size() + 16);
    ASSERT_TRUE(crypto::AesCcm128(std::span<const uint8_t, 16>(l2c.data(), 16)).Seal(rnonce, aad, plain, sealed).ok());
    const std::string msg = j["messages"][r["message"].get<std::string>()].get<std::string>();
    EXPECT_TRUE(msg.ends_with(Hex(sealed))) << r["message"];
  }
  EXPECT_EQ(c2l.size(), 16u);
}

TEST(VectorsTest, OfflinePinCodesGetTheirVerdicts) {
  const Json j = Load("offline_pins.json");
  const Bytes secret = H(j["secret"]);
  const core::OfflinePinCodec codec(std::span<const uint8_t, 32>(secret.data(), 32));
  std::array<core::OfflineEntry, core::kOfflineTableSize> table{};
  for (const Json& c : j["codes"]) {
    SCOPED_TRACE(c["kind"].get<std::string>());
    const std::string code = c["code"];
    const core::OfflinePinCodec::Verdict v =
        codec.Check(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(code.data()), code.size()),
                    c["check_at"], c["utc_offset_s"], table, 0);
    EXPECT_EQ(v.outcome, c["expect"] == "erase" ? core::OfflinePinCodec::Outcome::kErase
                                                : core::OfflinePinCodec::Outcome::kGrant);
    // One digit changed is not a code of this lock.
    std::string wrong = code;
    wrong[3] = wrong[3] == '9' ? '0' : static_cast<char>(wrong[3] + 1);
    EXPECT_EQ(codec
                  .Check(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(wrong.data()), wrong.size()),
                         c["check_at"], c["utc_offset_s"], table, 0)
                  .outcome,
              core::OfflinePinCodec::Outcome::kInvalid);
  }
}

std::vector<store::LogItem> DecodeStream(const Bytes& stream) {
  std::vector<store::LogItem> items;
  std::span<const uint8_t> rest(stream);
  while (!rest.empty()) {
    store::LogItem item;
    Result<size_t> n = store::DecodeLogItem(rest, item);
    EXPECT_TRUE(n.ok());
    if (!n.ok()) break;
    items.push_back(item);
    rest = rest.subspan(*n);
  }
  return items;
}

TEST(VectorsTest, LogStreamVerifiesOfflineWithTheLocksPublicKey) {
  const Json j = Load("log.json");
  const crypto::P256PublicKey lock_key = Key(j["lock_key"]);
  const protocol::LockId lock_id = LockIdFrom(j["lock_id"]);
  const std::vector<store::LogItem> items = DecodeStream(H(j["stream"]));
  ASSERT_EQ(items.size(), j["items"].size());
  auto verify = [&](const std::vector<store::LogItem>& stream) {
    store::LogVerifier v(lock_key, lock_id, j["expected_first"], j["now_utc"], j["max_head_age_s"]);
    for (const store::LogItem& item : stream) v.Feed(item);
    return v.Finish();
  };
  const store::LogFindings found = verify(items);
  EXPECT_TRUE(found.offline_ok());
  EXPECT_EQ(found.signed_through, j["expect"]["signed_through"]);
  EXPECT_EQ(found.signed_at, j["expect"]["signed_at"]);
  size_t intros = 0, heads = 0, timed = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].type == store::LogItemType::kSignedHead) ++timed;
    if (items[i].type != store::LogItemType::kRecord) continue;
    Result<store::LogRecord> rec =
        store::DecodeLogRecord(items[i].seq, std::span<const uint8_t>(items[i].bytes.data(), items[i].length));
    ASSERT_TRUE(rec.ok());
    intros += rec->type == store::LogRecordType::kKeyIntro;
    heads += rec->type == store::LogRecordType::kSignedHead;
  }
  EXPECT_EQ(intros, 1u);
  EXPECT_GE(heads, 1u);
  EXPECT_EQ(timed, 1u);
  // One record edited: the stream no longer verifies.
  std::vector<store::LogItem> edited = items;
  for (store::LogItem& item : edited) {
    if (item.type == store::LogItemType::kRecord && item.seq == 5) item.bytes[3] ^= 1;
  }
  EXPECT_FALSE(verify(edited).offline_ok());
}

// A frame 0x05 reply with the lock's receipt: the message built here from
// the fields (label with its zero, lock id, LE32 generation, kind, status,
// LE64 held version, SHA-256 of the update sent) and verified with the
// lock's key, by hand and with VerifySignedUpdateReceipt.
void ExpectUpdateReceipt(const Json& reply, const Json& j, const Bytes& update) {
  ASSERT_TRUE(reply["signed"].get<bool>());
  const Bytes frame = H(reply["frame"]);
  ASSERT_EQ(frame.size(), protocol::kSignedUpdateReceiptReplySize);
  const protocol::LockId lock_id = LockIdFrom(j["lock_id"]);
  const uint32_t generation = j["claim_generation"];
  const std::string label = j["receipt_domain"];
  Bytes message(label.begin(), label.end());
  message.push_back(0);
  const crypto::Digest h = crypto::Sha256::Hash(update);
  for (const Bytes& part : {Bytes(lock_id.begin(), lock_id.end()), Le(generation, 4), Bytes{frame[1], frame[2]},
                            Bytes(frame.begin() + 3, frame.begin() + 11), Bytes(h.begin(), h.end())}) {
    message.insert(message.end(), part.begin(), part.end());
  }
  EXPECT_EQ(Hex(message), reply["receipt_message"]);
  const crypto::P256PublicKey lock_key = Key(j["lock_key"]);
  EXPECT_EQ(Hex(std::span<const uint8_t>(frame).subspan(11)), reply["signature"]);
  EXPECT_TRUE(lock_key.VerifyDigest(crypto::Sha256::Hash(message), H(reply["signature"])).ok());
  const Result<protocol::SignedUpdateReply> r = protocol::DecodeSignedUpdateReply(frame);
  ASSERT_TRUE(r.ok());
  const Result<uint64_t> held =
      protocol::VerifySignedUpdateReceipt(*r, lock_key, lock_id, generation, r->kind, update);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(*held, U(reply["receipt_held_version"]));
  Bytes edited = update;
  edited.back() ^= 0x01;
  EXPECT_FALSE(protocol::VerifySignedUpdateReceipt(*r, lock_key, lock_id, generation, r->kind, edited).ok());
}

TEST(VectorsTest, GroupMembershipsVerifyAndDecideWhereTheGroupKeyOpens) {
  const Json j = Load("group_memberships.json");
  const crypto::P256PublicKey owner = Key(j["owner_key"]);
  const protocol::LockId lock_id = LockIdFrom(j["lock_id"]);
  const uint32_t generation = j["claim_generation"];
  const std::string domain = j["domain"];
  // The group certificate: scope 2 and the group id (fields 17 and 18:
  // 88 01 02, 91 01 || 8 bytes LE), no lock id, no claim generation.
  const Json& cert = j["certificate"];
  ExpectCertificate(cert, j["certificate_domain"].get<std::string>());
  const uint64_t group = U(cert["fields"]["group_id"]);
  EXPECT_EQ(cert["fields"]["scope"], static_cast<int>(protocol::Scope::kGroup));
  EXPECT_EQ(cert["fields"]["claim_generation"], 0);
  Bytes scope_and_group = {0x88, 0x01, 0x02, 0x91, 0x01};
  const Bytes group_le = Le(group, 8);
  scope_and_group.insert(scope_and_group.end(), group_le.begin(), group_le.end());
  const Bytes tbs = H(cert["tbs"]);
  EXPECT_NE(std::search(tbs.begin(), tbs.end(), scope_and_group.begin(), scope_and_group.end()), tbs.end());

  protocol::VerifyContext ctx = ContextOf(j, owner);
  // Outside every group (no membership): the group key is refused.
  EXPECT_EQ(protocol::VerifyChain(H(j["chain"]["chain"]), ctx).status().code(), StatusCode::kPermissionDenied);
  ASSERT_EQ(j["memberships"].size(), 2u);
  for (const Json& m : j["memberships"]) {
    SCOPED_TRACE(m["name"].get<std::string>());
    ExpectSignature(m, domain, m["signer"].get<std::string>());
    // The digest input: the domain, its zero, the tbs.
    Bytes input(domain.begin(), domain.end());
    input.push_back(0);
    const Bytes m_tbs = H(m["tbs"]);
    input.insert(input.end(), m_tbs.begin(), m_tbs.end());
    EXPECT_EQ(Hex(input), m["digest_input"]);
    EXPECT_EQ(Hex(crypto::Sha256::Hash(input)), m["digest"]);
    const Bytes update = H(m["update"]);
    const Signed parts = SplitSigned(update);
    EXPECT_EQ(Hex(parts.tbs), m["tbs"]);
    EXPECT_EQ(Hex(parts.signature), m["signature"]);
    Result<protocol::VerifiedGroupMembership> v = protocol::VerifyGroupMembership(update, lock_id, generation, owner);
    ASSERT_TRUE(v.ok()) << v.status().name();
    const Json& want = m["state"];
    EXPECT_EQ(v->state.version, U(want["version"]));
    EXPECT_EQ(v->state.claim_generation, want["claim_generation"]);
    EXPECT_EQ(v->state.by_admin, want["by_admin"]);
    EXPECT_EQ(v->state.by_admin, m["signer"] == "admin");
    EXPECT_EQ(v->state.by_admin ? Hex(v->state.signer) : "", want["signer_key_id"]);
    ASSERT_EQ(v->state.count, want["groups"].size());
    for (size_t i = 0; i < v->state.count; ++i) EXPECT_EQ(v->state.groups[i], U(want["groups"][i]));
    if (v->state.by_admin) {
      Result<CertificateFields> admin = protocol::DecodeCertificate(H(m["issuer_certificate"]));
      ASSERT_TRUE(admin.ok());
      EXPECT_EQ(admin->role, protocol::Role::kAdmin);
      EXPECT_NE(admin->permissions & protocol::kPermManageGroups, 0u);
    } else {
      EXPECT_EQ(m["issuer_certificate"], "");
    }
    // Where the group key opens under this membership.
    ctx.groups = v->state.group_list();
    const Result<protocol::VerifiedKey> key = protocol::VerifyChain(H(j["chain"]["chain"]), ctx);
    EXPECT_EQ(static_cast<int>(key.ok() ? StatusCode::kOk : key.status().code()), m["group_key_status"]);
    if (m["group_key_status"] == 0) ExpectChain(j["chain"], ctx);
    // Frame 0x05: type, kind 2, the update; the lock's reply.
    Bytes frame(2 + update.size());
    Result<size_t> n = protocol::EncodeSignedUpdateFrame(protocol::SignedUpdateKind::kGroupMembership, update, frame);
    ASSERT_TRUE(n.ok());
    frame.resize(*n);
    EXPECT_EQ(Hex(frame), m["frame"]);
    Result<protocol::SignedUpdateReply> r = protocol::DecodeSignedUpdateReply(H(m["reply"]["frame"]));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(static_cast<int>(r->kind), m["reply"]["kind"]);
    EXPECT_EQ(static_cast<int>(r->status), m["reply"]["status"]);
    EXPECT_EQ(r->status, StatusCode::kOk);
    EXPECT_EQ(r->held_version, U(m["reply"]["held_version"]));
    EXPECT_EQ(r->held_version, v->state.version);
    ExpectUpdateReceipt(m["reply"], j, update);
  }
  // The owner's membership list both groups; the admin's later one takes the door out of the key's group.
  EXPECT_EQ(j["memberships"][0]["group_key_status"], 0);
  EXPECT_EQ(j["memberships"][1]["group_key_status"], static_cast<int>(StatusCode::kPermissionDenied));
  Result<protocol::SignedUpdateReply> replayed = protocol::DecodeSignedUpdateReply(H(j["replayed"]["reply"]["frame"]));
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(replayed->status, StatusCode::kAlreadyExists);
  EXPECT_EQ(static_cast<int>(replayed->status), j["replayed"]["reply"]["status"]);
  EXPECT_EQ(replayed->held_version, 2u);
  ExpectUpdateReceipt(j["replayed"]["reply"], j, H(j["memberships"][0]["update"]));
}

TEST(VectorsTest, CustodyAcknowledgementNamesTheLogsChainAndTheLockSignsTheCursor) {
  const Json j = Load("custody.json");
  const crypto::P256PublicKey owner = Key(j["owner_key"]);
  const crypto::P256PublicKey lock_key = Key(j["lock_key"]);
  const protocol::LockId lock_id = LockIdFrom(j["lock_id"]);
  const uint32_t generation = j["claim_generation"];
  // The custody key: role admin, log custody alone; it verifies at the lock.
  ExpectCertificate(j["certificate"], j["certificate_domain"].get<std::string>());
  EXPECT_EQ(j["certificate"]["fields"]["role"], static_cast<int>(protocol::Role::kAdmin));
  EXPECT_EQ(j["certificate"]["fields"]["permissions"], protocol::kPermLogCustody);
  ExpectChain(j["chain"], ContextOf(j, owner));

  // h(N) is what a reader of log.json's stream computes through record N.
  const Json& ack = j["acknowledgement"];
  const uint64_t seq = ack["fields"]["seq"];
  const Json log = Load(j["log"].get<std::string>());
  store::LogVerifier reader(lock_key, lock_id, log["expected_first"], log["now_utc"], log["max_head_age_s"]);
  for (const store::LogItem& item : DecodeStream(H(log["stream"]))) {
    if (item.seq > seq || item.type == store::LogItemType::kHead) break;
    if (item.type == store::LogItemType::kCheckpoint && item.seq == seq) break;
    reader.Feed(item);
  }
  uint64_t end = 0;
  store::LogChain chain{};
  ASSERT_TRUE(reader.StreamEnd(end, chain));
  EXPECT_EQ(end, seq);
  EXPECT_EQ(Hex(chain), ack["fields"]["chain_hash"]);

  // Frame 0x06: 06 01 | lock id | LE32 generation | LE64 N | h(N) | LE16 L | chain | signature.
  const Bytes frame = H(ack["frame"]);
  const Bytes key_chain = H(j["chain"]["chain"]);
  Bytes want{0x06, protocol::kCustodyVersion};
  for (const Bytes& part : {H(ack["fields"]["lock_id"]), Le(ack["fields"]["claim_generation"], 4), Le(seq, 8),
                            H(ack["fields"]["chain_hash"]), Le(key_chain.size(), 2), key_chain, H(ack["signature"])}) {
    want.insert(want.end(), part.begin(), part.end());
  }
  EXPECT_EQ(Hex(frame), Hex(want));
  EXPECT_EQ(frame.size(), 112 + key_chain.size());
  EXPECT_EQ(Hex(std::span<const uint8_t>(frame).subspan(1, protocol::kCustodyAckFieldsSize)), ack["tbs"]);
  ExpectSignature(ack, j["domain"].get<std::string>(), ack["signer"].get<std::string>());

  // The lock's answer: advanced, the cursor at N, and its receipt.
  Result<protocol::CustodyReply> r = protocol::DecodeCustodyReply(H(j["reply"]["frame"]));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, protocol::CustodyStatus::kAdvanced);
  EXPECT_EQ(static_cast<int>(r->status), j["reply"]["status"]);
  ASSERT_TRUE(r->has_counters);
  EXPECT_EQ(r->cursor, seq);
  EXPECT_EQ(r->cursor, j["reply"]["cursor"]);
  EXPECT_EQ(r->head, j["reply"]["head"]);
  ASSERT_TRUE(r->has_receipt);
  EXPECT_EQ(r->signed_utc, j["reply"]["signed_utc"]);
  EXPECT_EQ(Hex(r->cursor_chain), ack["fields"]["chain_hash"]);
  EXPECT_EQ(Hex(r->signature), j["reply"]["signature"]);
  EXPECT_TRUE(protocol::VerifyCustodyReceipt(*r, lock_key, lock_id, generation).ok());
  // The receipt's message: the label with its zero, lock id, LE32 generation, LE64 cursor, h(cursor), LE64 time.
  const std::string label = j["receipt_domain"];
  Bytes message(label.begin(), label.end());
  message.push_back(0);
  for (const Bytes& part : {Bytes(lock_id.begin(), lock_id.end()), Le(generation, 4), Le(r->cursor, 8),
                            Bytes(r->cursor_chain.begin(), r->cursor_chain.end()),
                            Le(static_cast<uint64_t>(r->signed_utc), 8)}) {
    message.insert(message.end(), part.begin(), part.end());
  }
  EXPECT_EQ(Hex(message), j["reply"]["receipt_message"]);
  EXPECT_TRUE(lock_key.VerifyDigest(crypto::Sha256::Hash(message), H(j["reply"]["signature"])).ok());
  // A tampered receipt fails.
  protocol::CustodyReply forged = *r;
  forged.cursor += 1;
  EXPECT_FALSE(protocol::VerifyCustodyReceipt(forged, lock_key, lock_id, generation).ok());

  // The same frame replayed: unchanged, counters, no receipt.
  Result<protocol::CustodyReply> again = protocol::DecodeCustodyReply(H(j["replayed"]["frame"]));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, protocol::CustodyStatus::kUnchanged);
  EXPECT_EQ(static_cast<int>(again->status), j["replayed"]["status"]);
  EXPECT_EQ(again->cursor, seq);
  EXPECT_FALSE(again->has_receipt);
}

}  // namespace
}  // namespace mortise::vectors
