// Doors' audit logs as the server stores them (migration 0007, docs/server.md
// "Door logs"): the pages as received with their verdicts, each record once
// with its decoded summary, gaps and declared losses, and where each door's
// hash chain stands. Its own small store over the repository's SqlDriver
// (SqlRepository::WithDriver); LogIngest decides, this class only reads and
// writes. Pages are written inside a transaction of the intake (one page or
// a group, InTransaction). Throws StorageError.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql_repository.h"

namespace mortise::server {

// The door a lock id belongs to, with what verifies its log.
struct LogDoor {
  std::string id;
  std::string org_id;
  std::string lock_id;          // hex, 16 bytes
  std::string lock_public_key;  // hex, 65 bytes SEC 1
};

// Where a door's stored log stands (zeros: nothing stored yet).
struct LogChainState {
  uint64_t last_seq = 0;        // the newest stored record
  std::string chain;            // h(last_seq), hex ("" when none)
  uint64_t signed_through = 0;  // the newest record a verified lock signature covers
  int64_t signed_at = 0;        // the lock's time in that signature (UTC seconds)
  int64_t pages = 0;            // pages stored
};

// Record status: covered by a verified signed head of the lock, not yet
// covered, or contradicted (a later page the lock signed shows the chain
// differed before it: one of these records is not what the lock wrote).
inline constexpr std::string_view kRecordSigned = "signed";
inline constexpr std::string_view kRecordUnsigned = "unsigned";
inline constexpr std::string_view kRecordContradicted = "contradicted";

struct LogRecordRow {
  uint64_t seq = 0;
  int64_t page_no = 0;
  std::string type;    // 'event', 'loss', 'signed_head', 'key_intro', 'void'
  std::string chain;   // h(seq), hex
  std::string status;  // kRecord*
  std::string summary;  // JSON object
};

struct LogGapRow {
  // 'gap' (never received), 'loss' (declared by the lock), 'void'; and,
  // never shown: 'break', where the stored chain is not known to continue
  // (a gap declared or filled since), which no later signature reaches back
  // over; 'claim', a loss or void record stored unsigned (first = last =
  // its number), which becomes a 'loss' or 'void' row when a signature of
  // the lock covers it.
  std::string kind;
  uint64_t first = 0;
  uint64_t last = 0;
  std::string reason;
  int64_t page_no = 0;
};

struct LogPageRow {
  int64_t page_no = 0;
  int64_t received_at = 0;  // Unix ms
  uint64_t from = 0;
  uint64_t next = 0;
  bool head = false;
  std::string verdict;
  std::string detail;
  int64_t new_records = 0;
  std::string items;  // hex, as received
};

// What one page changes, written in one transaction.
struct LogPageWrite {
  std::string door_id;
  LogPageRow page;                  // page_no is assigned by the store
  std::vector<LogRecordRow> records;  // records to insert (an existing seq is kept)
  std::vector<uint64_t> replace;    // unsigned records to delete first (the lock's signature contradicts them)
  std::vector<LogGapRow> gaps;
  // first_seq of 'gap' rows the lock's loss records now declare: kept as
  // 'break' rows (the chain is not known to run across them: no signature
  // after one covers records before it), not shown as gaps.
  std::vector<uint64_t> declared_gaps;
  // first_seq of 'gap' rows this page fills (deleted first; what stays
  // unreceived and any break are in `gaps`).
  std::vector<uint64_t> filled_gaps;
  // A 'break' row of this single stored number is deleted (0: none): the
  // page continues the stored chain from it into the next record.
  uint64_t joined_break = 0;
  // 'claim' rows deleted (first_seq): the signature of this page decided them.
  std::vector<uint64_t> cleared_claims;
  // Set the status of stored records in [first, last] from unsigned to
  // `status` (signed, or contradicted); empty when first > last.
  struct StatusRange {
    uint64_t first;
    uint64_t last;
    std::string_view status;
  };
  std::vector<StatusRange> statuses;
  std::optional<LogChainState> chain;  // the new chain state; nullopt: unchanged (pages + 1)
};

// Refused pages kept per door as evidence (the newest): a lock that is
// itself compromised can publish only under its own topics, and with this
// bound cannot grow the database without limit.
inline constexpr int64_t kMaxRefusedPages = 100;

class LogStore {
 public:
  explicit LogStore(SqlRepository& repo) : repo_(repo) {}

  // What the intake reads and writes, on the connection of one transaction
  // (LogStore::InTransaction): each page's reads see the pages written
  // before it in the same transaction (group commit).
  class Tx {
   public:
    explicit Tx(SqlDriver& db) : db_(db) {}
    std::optional<LogDoor> DoorByLockId(std::string_view lock_id_hex);
    LogChainState State(std::string_view door_id);
    // Stored records with first <= seq <= last: seq -> (chain hex, status).
    std::map<uint64_t, std::pair<std::string, std::string>> Chains(std::string_view door_id, uint64_t first,
                                                                   uint64_t last);
    // The last sequence number of the newest 'gap' or 'break' row ending
    // before `seq` (0: none), not counting a 'break' row of the single
    // number `joined` (one this page shows the chain runs on from; 0: none).
    uint64_t LastGapBefore(std::string_view door_id, uint64_t seq, uint64_t joined = 0);
    // Gaps and losses overlapping [first, last].
    std::vector<LogGapRow> Gaps(std::string_view door_id, uint64_t first, uint64_t last);
    // Returns the page number given to the page. A refused page (verdict
    // broken_chain or bad_signature) is kept as evidence with the door's
    // newest kMaxRefusedPages refused ones; older refused pages are deleted
    // (how many: dropped_refused()).
    int64_t WritePage(const LogPageWrite& write);
    int64_t dropped_refused() const { return dropped_refused_; }
    // The records at the numbers a 'claim' row marks in [first, last]
    // (seq, type, status and summary set; a marked number with no record is
    // left out): loss and void records stored unsigned, which a signature
    // covering them turns into loss and void rows. Reads only marked
    // numbers, so a signature over a long range costs one index probe.
    std::vector<LogRecordRow> MarkedClaims(std::string_view door_id, uint64_t first, uint64_t last);
    // Turns the 'gap' rows starting at `declared_gaps` into 'break' rows,
    // deletes those starting at `filled_gaps`, then inserts `gaps` (an
    // existing row is kept) for page `page_no` (LogPageWrite's fields).
    void WriteGaps(std::string_view door_id, int64_t page_no, const std::vector<LogGapRow>& gaps,
                   const std::vector<uint64_t>& declared_gaps, const std::vector<uint64_t>& filled_gaps = {});

   private:
    SqlDriver& db_;
    int64_t dropped_refused_ = 0;
  };
  // Runs f(Tx&) in one transaction, committed when f returns and rolled
  // back when it throws; the repository's connection is held meanwhile.
  template <typename F>
  decltype(auto) InTransaction(F&& f) {
    return repo_.WithDriver([&](SqlDriver& db) -> decltype(auto) {
      db.Begin();
      try {
        Tx tx(db);
        decltype(auto) out = f(tx);
        db.Commit();
        return out;
      } catch (...) {
        db.Rollback();
        throw;
      }
    });
  }

  std::optional<LogDoor> DoorByLockId(std::string_view lock_id_hex);
  std::optional<LogDoor> Door(std::string_view org_id, std::string_view door_id);
  LogChainState State(std::string_view door_id);
  std::map<uint64_t, std::pair<std::string, std::string>> Chains(std::string_view door_id, uint64_t first,
                                                                 uint64_t last);
  // One page in its own transaction (Tx::WritePage).
  int64_t WritePage(const LogPageWrite& write);

  // Custody (docs/server.md "Log custody"): the newest record N, after <
  // N <= through, such that every number in (after, N] is a stored record a
  // verified signature of the lock covers, or inside a loss that a stored,
  // signed loss record of the lock declares; N itself is a stored signed
  // record. 0 when there is none. Looks at no more than `max_records`
  // records past `after` (the next call continues).
  uint64_t SignedThroughWithoutHoles(std::string_view door_id, uint64_t after, uint64_t through,
                                     int64_t max_records = 200000);

  // Reading (the API): records with seq > after_seq, oldest first.
  std::vector<LogRecordRow> Records(std::string_view door_id, uint64_t after_seq, int limit);
  // Gaps and losses overlapping [first, last] (no breaks, no claims).
  std::vector<LogGapRow> Gaps(std::string_view door_id, uint64_t first, uint64_t last);
  // Pages with page_no > after_page, in arrival order.
  std::vector<LogPageRow> Pages(std::string_view door_id, int64_t after_page, int limit);

 private:
  SqlRepository& repo_;
};

}  // namespace mortise::server
