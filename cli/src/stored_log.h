// A lock's audit log as mortise-server stores it (`GET .../log/pages`: the
// pages byte for byte as the lock published them on its uplink, in the
// order they arrived), verified on this device with the lock key pinned in
// the keyring, for `mortise log --server`. The server's verdicts play no
// part: the server may be hostile (docs/threat-model.md A02).
//
// Each page is checked on its own first (it decodes, starts with one
// anchor, its records are in order and every signed head in it verifies
// with the pinned key); then the pages are joined into one stream in the
// order given, as store::LogVerifier's offline mode checks it: a page that
// re-sends records (the lock resumes from its custody cursor after a
// reconnect) must hash to the same chain as the copy before; a page that
// starts beyond the stream leaves a gap (explained only by loss records the
// lock signed); a page that contradicts the stream or does not continue its
// chain is reported. A record is `signed` when a signed head of the lock
// that verified covers it through an unbroken chain.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mortise/crypto/p256.h"
#include "mortise/protocol/identity.h"
#include "mortise/store/audit_log.h"
#include "server_client.h"

namespace mortise::cli {

struct StoredLogPage {
  std::string name;       // how the report names it: "page 7" (the server's number)
  std::string items_hex;  // the export's items, as the lock sent them
};

// One record of the joined stream (a record or a void), in sequence order.
struct StoredLogEntry {
  store::LogItem item;
  bool is_signed = false;  // covered by a verified signed head of the lock
};

class StoredLogVerifier {
 public:
  // `expected_first`: the first sequence number wanted (records before it
  // may be absent); `now_utc`: this device's clock (a newest signed head
  // older than `max_head_age_s` is reported stale).
  StoredLogVerifier(const crypto::P256PublicKey& lock_key, const protocol::LockId& lock_id, uint64_t expected_first,
                    int64_t now_utc, int64_t max_head_age_s);

  // The next page, in the order the server gave them.
  void Add(const StoredLogPage& page);
  // Ends the stream; call once, after the last Add.
  const store::LogFindings& Finish();

  const std::vector<StoredLogEntry>& entries() const { return entries_; }
  // What did not verify, one sentence each (pages that do not decode or
  // verify, contradictions, a chain that does not continue, pages out of
  // the lock's order), and the gaps: numbers neither received nor declared
  // lost by the lock.
  const std::vector<std::string>& problems() const { return problems_; }
  struct Gap {
    uint64_t first, last;
  };
  const std::vector<Gap>& gaps() const { return gaps_; }
  // The newest signed head that verified and covers the stream's chain.
  uint64_t signed_through() const { return signed_through_; }
  int64_t signed_at() const { return signed_at_; }
  // Where the verified stream ends and its chain hash (for log ack).
  bool StreamEnd(uint64_t& seq, store::LogChain& chain) const;
  // Everything verified: no problem, no gap the lock did not declare in a
  // signed record, no tampering declared, every record signed, and the
  // newest signature not stale.
  bool ok() const;

 private:
  struct Fed {
    store::LogItem item;
    store::LogChain chain;  // h(seq) after it (anchors: their chain)
  };
  void Feed(const store::LogItem& item, const store::LogChain& chain_after);
  void Covered(uint64_t through, int64_t at);
  // Drops the stream after `keep` fed items and feeds them again to a new
  // verifier (a contradicted copy is replaced by the lock's signed one).
  void Rewind(size_t keep);
  std::optional<store::LogChain> ChainAt(uint64_t seq) const;

  crypto::P256PublicKey lock_key_;
  std::array<uint8_t, store::kLogLockIdSize> lock_id_{};
  uint64_t expected_first_;
  int64_t now_utc_, max_head_age_s_;
  std::optional<store::LogVerifier> verifier_;
  std::vector<Fed> fed_;                 // everything fed to verifier_, in order
  std::vector<StoredLogEntry> entries_;  // the records and voids of fed_
  std::vector<size_t> breaks_;  // entries_ indices where the chain restarts
  uint64_t next_ = 0;         // next sequence number expected (0: nothing fed)
  uint64_t signed_through_ = 0;
  int64_t signed_at_ = 0;
  std::vector<std::string> problems_;
  std::vector<Gap> gaps_;
  bool finished_ = false;
};

// How far `mortise log --server` reads a server's pages: a hostile server
// that never ends its list, or pads it, meets these bounds (A09).
struct StoredLogFetchLimits {
  size_t page_size = 20;            // asked for per request; an answer with more is refused
  size_t max_pages = 1'000'000;     // more than any lock's log fills (a million records, pages of one or more)
  size_t max_bytes = size_t{512} << 20;  // the pages' hex, in total
};

// Reads the pages the server stores for a door (`GET pages_path?limit=N`,
// then `&cursor=C` as each answer says) and hands each to `add`, in the
// order given; returns how many. Every answer must name the lock
// `lock_id_hex`, and an answer that names a next cursor must carry the
// page_size pages asked for (mortise-server names one only after a full
// answer, when more pages follow) and a cursor not given before, so the
// requests, and the cursors kept to tell a circle, number at most
// max_pages / page_size + 1.
// Throws Error(kVerification), nothing else having been used: an answer
// of another lock, malformed (a field of the wrong type, a next_cursor that
// is not IsCursor), with more pages than asked for, without progress (a
// next cursor after fewer pages than asked for, or one given before), or
// past max_pages / max_bytes in total; the server's refusals as
// ExpectStatus (`doing` names what was being read).
size_t FetchStoredLogPages(const ServerClient& server, const std::string& pages_path,
                           const std::vector<std::string>& headers, const std::string& lock_id_hex,
                           const std::string& lock_name, const std::string& doing,
                           const std::function<void(const StoredLogPage&)>& add,
                           const StoredLogFetchLimits& limits = {});

}  // namespace mortise::cli
