// The server's intake of door logs (issue 14, docs/server.md "Door logs"):
// each `log` message a lock publishes (docs/uplink.md) is parsed strictly,
// verified with nothing but the door's lock public key (store::LogVerifier's
// offline mode) continuing the hash chain from what is stored, and stored
// with its verdict: every record once, gaps and the lock's declared losses
// as such. The server only keeps and shows; what it stores an owner's tools
// verify again from the raw pages (GET .../log/pages).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "clock_random.h"
#include "log_ingest_verify.h"
#include "log_store.h"

namespace mortise::server {

// A log message is at most this long: a page of 16,384 bytes (lockd's
// largest `log_page_bytes`) in hex and the JSON around it.
inline constexpr size_t kMaxLogMessageBytes = 2 * 16384 + 256;

enum class LogVerdict {
  // Continues the stored chain; every signature in it verified with the
  // door's lock key; records through the newest signed head are signed,
  // those after it wait for the lock's next signature.
  kVerified,
  // Continues the stored chain, but no signed head of the lock is in it (its
  // records are stored unsigned until a later page's signature covers them;
  // stored unsigned records it differs from are replaced, the lock's next
  // signature decides). Its loss and void items are claims only: no loss or
  // void row until a signature of the lock covers their record (A02).
  kUnsigned,
  // Nothing new: every record in it is stored already, identically. Not stored.
  kDuplicate,
  // Stored as evidence only: the records are out of order, do not decode,
  // restart the chain, differ from stored signed records (never
  // overwritten), or, unsigned, its anchor differs from the stored record.
  kBrokenChain,
  // Stored as evidence only: a signed head in it does not verify with the
  // door's lock key (another lock's page, an edited, dropped or added record).
  kBadSignature,
  kUnknownDoor,  // no door has this lock id: counted, not stored
  // not a log message (JSON, fields, sizes, items, a loss record's numbers
  // not ending before it): counted, not stored
  kMalformed,
};
std::string_view LogVerdictName(LogVerdict v);

struct LogIngestResult {
  LogVerdict verdict = LogVerdict::kMalformed;
  std::string detail;
  uint64_t new_records = 0;
  uint64_t duplicate_records = 0;
  int64_t page_no = 0;  // 0: not stored
  uint64_t refused_dropped = 0;  // older refused pages of the door deleted (kMaxRefusedPages)
  std::string error;    // the database failed: nothing of this page stored (it comes again)
};

// A `log` message as the link received it.
struct LogMessageIn {
  std::string lock_id_hex;
  std::string payload;
};

class LogIngest {
 public:
  using EventSink = std::function<void(std::string_view org_id, const nlohmann::json& event)>;
  // `sink` gets a `door.log` event per stored page (main.cc wires it to the
  // WebSocket hub).
  LogIngest(LogStore& store, const Clock& clock, EventSink sink = {});

  // The MQTT `log` topic of lock `lock_id_hex` (the broker authenticated the
  // publisher as that lock). Thread-safe; never throws for bad input
  // (StorageError from the database propagates).
  LogIngestResult OnLogMessage(std::string_view lock_id_hex, std::string_view payload);
  // Several messages in one transaction (group commit): each is decided as
  // if alone and in order (it sees the pages before it), one commit for all;
  // the `door.log` events and the counters follow the commit. When the
  // transaction fails, each message is tried again in its own, so a
  // database error loses at most the page that caused it (its `error`; the
  // lock sends it again from its custody cursor). Never throws.
  std::vector<LogIngestResult> OnLogMessages(std::span<const LogMessageIn> messages);

  // The intake's own thread (main.cc): Enqueue hands a message from the
  // link's thread; the thread takes every message waiting, at most
  // `max_batch`, into one OnLogMessages. At most `max_queue` wait: Enqueue
  // then blocks the link's thread (back-pressure through the broker, which
  // holds the lock's QoS 1 messages), never drops. Stop() ingests what is
  // queued and joins.
  void Start(size_t max_batch = 64, size_t max_queue = 1024);
  void Enqueue(std::string_view lock_id_hex, std::string_view payload);
  void Stop();
  ~LogIngest() { Stop(); }

  struct Counters {
    std::atomic<uint64_t> pages{0};  // stored pages
    std::atomic<uint64_t> records{0};  // stored records
    std::atomic<uint64_t> duplicates{0};
    std::atomic<uint64_t> broken{0};
    std::atomic<uint64_t> bad_signature{0};
    std::atomic<uint64_t> unknown_door{0};
    std::atomic<uint64_t> malformed{0};
    std::atomic<uint64_t> errors{0};   // pages not stored: the database failed
    std::atomic<uint64_t> refused_dropped{0};  // refused pages deleted beyond kMaxRefusedPages per door
    std::atomic<uint64_t> commits{0};  // transactions of the intake
  };
  const Counters& counters() const { return counters_; }

 private:
  // A page's decision and writes inside `tx`; `event` gets the door.log
  // event to publish after the commit (org id, event).
  LogIngestResult Ingest(LogStore::Tx& tx, std::string_view lock_id_hex, std::string_view payload,
                         std::pair<std::string, nlohmann::json>& event);
  void Count(const LogIngestResult& r);
  void Run();

  LogStore& store_;
  const Clock& clock_;
  EventSink sink_;
  DoorKeyCache keys_;
  // One batch at a time: each page continues the chain the previous one stored.
  std::mutex mu_;
  Counters counters_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;   // the thread waits for messages
  std::condition_variable room_cv_;    // Enqueue waits for room
  std::deque<LogMessageIn> queue_;
  size_t max_batch_ = 64;
  size_t max_queue_ = 1024;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mortise::server
