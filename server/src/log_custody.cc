#include "log_custody.h"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <vector>

#include "api.h"
#include "api_error.h"
#include "door_registration.h"
#include "door_updates.h"
#include "duty_keys.h"
#include "log_store.h"
#include "sql_values.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/custody.h"
#include "mortise/protocol/permissions.h"
#include "mortise/protocol/text_forms.h"

namespace mortise::server {
namespace {

using nlohmann::json;

using sql::Int;
using sql::Text;
using sql::V;

struct CustodyRow {
  std::string private_key, public_key;
  int64_t created_at = 0;
  std::optional<std::string> chain;
  int64_t claim_generation = 0, installed_at = 0;
  uint64_t acked_seq = 0;
  std::string acked_chain;
  int64_t acked_lock_time = 0, acked_at = 0, attempt_at = 0;
  std::string last_status;
};

std::optional<CustodyRow> ReadRow(SqlRepository& repo, std::string_view door_id) {
  const auto rows = repo.Read(
      "SELECT private_key, public_key, created_at, chain, claim_generation, installed_at, acked_seq, acked_chain, "
      "acked_lock_time, acked_at, attempt_at, last_status FROM log_custody WHERE door_id = ?",
      {V(door_id)});
  if (rows.empty()) return std::nullopt;
  const SqlRow& r = rows[0];
  CustodyRow c;
  c.private_key = Text(r, 0);
  c.public_key = Text(r, 1);
  c.created_at = Int(r, 2);
  c.chain = r.at(3);
  c.claim_generation = Int(r, 4);
  c.installed_at = Int(r, 5);
  c.acked_seq = static_cast<uint64_t>(Int(r, 6));
  c.acked_chain = Text(r, 7);
  c.acked_lock_time = Int(r, 8);
  c.acked_at = Int(r, 9);
  c.attempt_at = Int(r, 10);
  c.last_status = Text(r, 11);
  return c;
}


void SetAttempt(SqlRepository& repo, std::string_view door_id, int64_t now, std::string_view status) {
  repo.WithDriver([&](SqlDriver& db) {
    db.Exec("UPDATE log_custody SET attempt_at = ?, last_status = ? WHERE door_id = ?",
            {V(now), V(status), V(door_id)});
  });
}

}  // namespace

std::string_view CustodyOutcomeName(CustodyOutcome o) {
  switch (o) {
    case CustodyOutcome::kNotDue: return "not_due";
    case CustodyOutcome::kOffline: return "offline";
    case CustodyOutcome::kAdvanced: return "advanced";
    case CustodyOutcome::kUnchanged: return "unchanged";
    case CustodyOutcome::kRefusedByLock: return "refused_by_lock";
    case CustodyOutcome::kBadReceipt: return "bad_receipt";
    case CustodyOutcome::kNoAnswer: return "no_answer";
  }
  return "not_due";
}

LogCustody::LogCustody(SqlRepository& repo, const Clock& clock, Random& random, CustodySettings settings)
    : repo_(repo), clock_(clock), random_(random), settings_(settings) {}

json CustodyView(SqlRepository& repo, std::string_view door_id) {
  const auto row = ReadRow(repo, door_id);
  if (!row) return {{"state", "none"}};
  json j = {{"state", row->chain ? "certified" : "uncertified"},
            {"public_key", PublicKeyTextFromHex(row->public_key)},
            {"created_at", row->created_at},
            {"claim_generation", row->chain ? json(row->claim_generation) : json(nullptr)},
            {"acknowledged_through", row->acked_seq},
            {"acknowledged_chain", row->acked_chain.empty() ? json(nullptr) : json(row->acked_chain)},
            {"acknowledged_lock_time", row->acked_lock_time == 0 ? json(nullptr) : json(row->acked_lock_time)},
            {"acknowledged_at", row->acked_at == 0 ? json(nullptr) : json(row->acked_at)},
            {"last_attempt_at", row->attempt_at == 0 ? json(nullptr) : json(row->attempt_at)},
            {"last_status", row->last_status.empty() ? json(nullptr) : json(row->last_status)}};
  return j;
}

json LogCustody::CreateKey(std::string_view door_id) {
  std::lock_guard lock(mu_);
  if (!ReadRow(repo_, door_id)) {
    RandomEntropy entropy(random_);
    crypto::Drbg drbg(entropy);
    if (!drbg.Seed().ok()) throw std::runtime_error("cannot seed the DRBG");
    auto key = crypto::P256KeyPair::Generate(drbg);
    if (!key.ok()) throw std::runtime_error("cannot generate a P-256 key");
    crypto::SecretBytes<crypto::kP256ScalarSize> scalar;
    key->ExportPrivateScalar(scalar);
    repo_.WithDriver([&](SqlDriver& db) {
      db.Exec("INSERT INTO log_custody (door_id, private_key, public_key, created_at) VALUES (?, ?, ?, ?)",
              {V(door_id), V(ToHex(scalar.span())), V(ToHex(key->public_key().bytes())), V(clock_.NowMs())});
    });
  }
  return View(door_id);
}

json LogCustody::Install(std::string_view door_id, std::string_view text) {
  std::lock_guard lock(mu_);
  const DutyCertificate c = VerifyDutyCertificate(repo_, door_id, text, protocol::kPermLogCustody,
                                                  "mortise key share --custody", "no_custody_key");
  repo_.WithDriver([&](SqlDriver& db) {
    db.Exec("UPDATE log_custody SET chain = ?, claim_generation = ?, installed_at = ? WHERE door_id = ?",
            {V(c.chain_hex), V(static_cast<int64_t>(c.claim_generation)), V(clock_.NowMs()), V(door_id)});
  });
  return View(door_id);
}

CustodyOutcome LogCustody::Step(LockLink& link, std::string_view door_id) {
  std::lock_guard lock(mu_);
  const auto row = ReadRow(repo_, door_id);
  if (!row || !row->chain) return CustodyOutcome::kNotDue;
  const auto door = DutyDoorOf(repo_, door_id);
  if (!door) return CustodyOutcome::kNotDue;
  LogStore logs(repo_);
  const LogChainState state = logs.State(door_id);
  // Only what the server holds under a verified lock signature is
  // acknowledged, and only up to the first hole after the last
  // acknowledgement (from record 1 before the first): the lock's cursor
  // moves over everything before N, so a number the server never stored,
  // or holds unsigned, stops it there; a loss the lock itself declared in a
  // signed record is the only hole passed (A02).
  if (state.signed_through <= row->acked_seq) return CustodyOutcome::kNotDue;
  const uint64_t n = logs.SignedThroughWithoutHoles(door_id, row->acked_seq, state.signed_through);
  if (n <= row->acked_seq) return CustodyOutcome::kNotDue;
  const int64_t now = clock_.NowMs();
  const int64_t since = std::max(row->acked_at, row->installed_at);
  const bool due = n - row->acked_seq >= settings_.batch_records || now - since >= settings_.max_wait_ms;
  if (!due || (row->attempt_at != 0 && now - row->attempt_at < settings_.min_interval_ms)) {
    return CustodyOutcome::kNotDue;
  }
  const auto held = logs.Chains(door_id, n, n);
  const auto it = held.find(n);
  if (it == held.end() || it->second.second != kRecordSigned) return CustodyOutcome::kNotDue;
  if (!link.Online(door->lock_id)) return CustodyOutcome::kOffline;

  protocol::CustodyAck ack;
  const auto lock_id = FromHex(door->lock_id, protocol::kLockIdSize);
  const auto chain_hash = FromHex(it->second.first, protocol::kCustodyChainHashSize);
  const auto scalar = FromHex(row->private_key, crypto::kP256ScalarSize);
  const auto cert_chain = FromHex(*row->chain, row->chain->size() / 2);
  if (!lock_id || !chain_hash || !scalar || !cert_chain) throw std::runtime_error("custody: a stored value is not hex");
  std::copy(lock_id->begin(), lock_id->end(), ack.lock_id.begin());
  std::copy(chain_hash->begin(), chain_hash->end(), ack.chain.begin());
  ack.generation = static_cast<uint32_t>(row->claim_generation);
  ack.seq = n;
  auto signer = crypto::P256KeyPair::FromPrivateScalar(*scalar);
  if (!signer.ok()) throw std::runtime_error("custody: the stored private key is not a P-256 scalar");
  RandomEntropy entropy(random_);
  crypto::Drbg drbg(entropy);
  if (!drbg.Seed().ok()) throw std::runtime_error("cannot seed the DRBG");
  std::vector<uint8_t> frame(protocol::kMaxCustodyAckFrameSize);
  auto len = protocol::EncodeCustodyAck(ack, *signer, *cert_chain, drbg, frame);
  if (!len.ok()) throw std::runtime_error("custody: cannot encode the acknowledgement");
  frame.resize(*len);

  auto finish = [&](CustodyOutcome o) {
    SetAttempt(repo_, door_id, now, CustodyOutcomeName(o));
    return o;
  };
  const auto answer = link.Exchange(door->lock_id, frame, settings_.exchange_timeout_ms);
  if (!answer) return finish(CustodyOutcome::kNoAnswer);
  const auto reply = protocol::DecodeCustodyReply(*answer);
  if (!reply.ok()) return finish(CustodyOutcome::kBadReceipt);
  if (reply->status == protocol::CustodyStatus::kUnchanged) return finish(CustodyOutcome::kUnchanged);
  if (reply->status != protocol::CustodyStatus::kAdvanced) {
    SetAttempt(repo_, door_id, now, std::string("lock: ") + protocol::CustodyStatusName(reply->status));
    return CustodyOutcome::kRefusedByLock;
  }
  // The lock's receipt, with its own key: the position and the hash it
  // signed must be exactly what was acknowledged.
  if (!protocol::VerifyCustodyReceipt(*reply, PublicKeyFromHex(door->lock_public_key), ack.lock_id, ack.generation).ok() ||
      reply->cursor != n || reply->cursor_chain != ack.chain) {
    return finish(CustodyOutcome::kBadReceipt);
  }
  repo_.WithDriver([&](SqlDriver& db) {
    db.Exec("UPDATE log_custody SET acked_seq = ?, acked_chain = ?, acked_lock_time = ?, acked_at = ?, "
            "attempt_at = ?, last_status = ? WHERE door_id = ?",
            {V(n), V(it->second.first), V(reply->signed_utc), V(now), V(now), V("advanced"), V(door_id)});
  });
  return CustodyOutcome::kAdvanced;
}

int LogCustody::StepAll(LockLink& link) {
  const auto rows = repo_.Read("SELECT door_id FROM log_custody WHERE chain IS NOT NULL ORDER BY door_id", {});
  int sent = 0;
  for (const SqlRow& r : rows) {
    const CustodyOutcome o = Step(link, Text(r, 0));
    if (o != CustodyOutcome::kNotDue && o != CustodyOutcome::kOffline) ++sent;
  }
  return sent;
}

}  // namespace mortise::server
