// build/bench/log_ingest_bench [locks] [records_per_lock] [runs] [dir]:
// the server's door-log intake (issue 14) on SQLite. Pre-records signed log
// streams of `locks` simulated locks (the real AuditLog, timed signed heads
// every ten minutes of lock time, pages of 2,048 bytes as lockd publishes
// them: a lock cannot write records this fast), then replays them, lock
// after lock interleaved page by page, into the server's intake on a fresh
// database in `dir` (default: the system's temporary directory), `runs`
// times in each of two modes: one transaction per page
// (LogIngest::OnLogMessage) and group commit through the intake's thread
// (LogIngest::Enqueue, the server's path). Prints records/s per run and the
// medians, wall and CPU. Wall clock: an indication on a shared machine
// (docs/performance.md gives the command).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "fakes.h"
#include "log_ingest.h"
#include "log_ingest_verify.h"
#include "log_rig.h"
#include "log_store.h"
#include "mortise/crypto/p256.h"
#include "mortise/store/audit_log.h"
#include "sql_repository.h"

namespace {

using mortise::server::LogIngest;
using mortise::server::LogStore;
using mortise::server::LogVerdict;
using mortise::server::testing::LockLogRig;

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Stream {
  std::string lock_id;
  std::string public_key;
  std::vector<std::string> pages;
  uint64_t records = 0;
};

// A lock's stream as its uplink would publish it: every ~100 records the
// lock's timer signs its head and the uplink sends the pages up to it.
Stream Record(uint64_t seed, int records) {
  // 64 segments of 4 KiB hold ~12,000 records: no overflow below that.
  LockLogRig lock(seed, 64);
  Stream s{lock.lock_id_hex(), lock.public_key_hex(), {}, 0};
  uint64_t from = 1;
  for (int done = 0; done < records;) {
    const int n = std::min(100, records - done);
    lock.Append(n);
    lock.SignNow();
    done += n;
    uint64_t next = from;
    do {
      const uint64_t at = next;
      s.pages.push_back(lock.Page(at, 2048, &next));
    } while (next != 0);
    from = lock.head() + 1;
  }
  s.records = lock.head();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const int locks = argc > 1 ? std::atoi(argv[1]) : 10;
  const int per_lock = argc > 2 ? std::atoi(argv[2]) : 2000;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 5;
  const std::filesystem::path base = argc > 4 ? std::filesystem::path(argv[4]) : std::filesystem::temp_directory_path();
  if (locks < 1 || per_lock < 1 || per_lock > 12000 || runs < 1) {
    std::fprintf(stderr, "usage: log_ingest_bench [locks] [records_per_lock <= 12000] [runs] [dir]\n");
    return 2;
  }
  std::vector<Stream> streams;
  uint64_t total = 0;
  size_t pages = 0;
  for (int i = 0; i < locks; ++i) {
    streams.push_back(Record(100 + static_cast<uint64_t>(i), per_lock));
    total += streams.back().records;
    pages += streams.back().pages.size();
  }
  std::printf("%d locks, %llu records in %zu pages (pre-recorded)\n", locks, static_cast<unsigned long long>(total),
              pages);
  // The floor under it: the same pages parsed and verified (offline
  // verifier, every signature) without the database, with the lock's
  // mbedTLS P-256 and with OpenSSL's (what the server uses).
  for (const bool openssl : {false, true}) {
    const double cpu_start = CpuSeconds();
    for (const Stream& s : streams) {
      const auto raw_key = *mortise::server::FromHex(s.public_key, mortise::server::kPublicKeyBytes);
      const auto key = mortise::crypto::P256PublicKey::Import(raw_key).value();
      const auto check = mortise::server::OpenSslSignatureCheck::FromSec1(
          std::string_view(reinterpret_cast<const char*>(raw_key.data()), raw_key.size()));
      std::array<uint8_t, mortise::store::kLogLockIdSize> id{};
      const auto raw = *mortise::server::FromHex(s.lock_id, mortise::server::kLockIdBytes);
      std::copy(raw.begin(), raw.end(), id.begin());
      for (const std::string& page : s.pages) {
        std::optional<mortise::store::LogVerifier> v;
        if (openssl) {
          v.emplace(*check, id, 1, 0, 0);
        } else {
          v.emplace(key, id, 1, 0, 0);
        }
        const std::string items = nlohmann::json::parse(page)["items"].get<std::string>();
        for (const auto& item : LockLogRig::Items(*mortise::server::FromHex(items, items.size() / 2))) v->Feed(item);
        if (v->Finish().bad_signatures != 0) {
          std::fprintf(stderr, "a signature did not verify\n");
          return 1;
        }
      }
    }
    const double cpu = CpuSeconds() - cpu_start;
    std::printf("verification alone (no database, %s P-256): %.3f s CPU, %.0f records per CPU-second\n",
                openssl ? "OpenSSL" : "mbedTLS", cpu, static_cast<double>(total) / cpu);
  }
  // Two modes over the same pages: `page` commits each page on its own
  // (LogIngest::OnLogMessage, one transaction and on disk one fsync per
  // page); `group` is the server's path (main.cc): the link's thread
  // enqueues, the intake's thread commits what waits, up to 64 pages per
  // transaction (LogIngest::Enqueue / Start).
  for (const bool group : {false, true}) {
    std::vector<double> rates, cpu_rates;
    for (int run = 0; run < runs; ++run) {
      const auto dir = base / ("mortise-log-bench-" + std::to_string(::getpid()) + "-" + std::to_string(run));
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      {
        auto repo = mortise::server::OpenSqlite((dir / "server.db").string());
        repo->QueryText(
            "INSERT INTO organisations (id, name, kind, created_at) VALUES ('org_1', 'Bench', 'organisation', 1)");
        repo->QueryText("INSERT INTO sites (id, org_id, name, created_at) VALUES ('site_1', 'org_1', 'Main', 1)");
        for (size_t i = 0; i < streams.size(); ++i)
          repo->QueryText(
              "INSERT INTO doors (id, org_id, site_id, name, lock_id, lock_public_key, owner_public_key, "
              "registered_by, created_at) VALUES ('door_" +
              std::to_string(i) + "', 'org_1', 'site_1', 'D', '" + streams[i].lock_id + "', '" +
              streams[i].public_key + "', '04', 'acct_1', 1)");
        LogStore store(*repo);
        mortise::server::testing::FakeClock clock;
        LogIngest ingest(store, clock);
        const auto start = std::chrono::steady_clock::now();
        const double cpu_start = CpuSeconds();
        if (group) ingest.Start();
        for (size_t p = 0;; ++p) {
          bool any = false;
          for (const Stream& s : streams) {
            if (p >= s.pages.size()) continue;
            any = true;
            if (group) {
              ingest.Enqueue(s.lock_id, s.pages[p]);
              continue;
            }
            const auto r = ingest.OnLogMessage(s.lock_id, s.pages[p]);
            if (r.verdict != LogVerdict::kVerified && r.verdict != LogVerdict::kUnsigned &&
                r.verdict != LogVerdict::kDuplicate) {
              std::fprintf(stderr, "page refused: %s\n", r.detail.c_str());
              return 1;
            }
          }
          if (!any) break;
        }
        ingest.Stop();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double cpu = CpuSeconds() - cpu_start;
        const auto& c = ingest.counters();
        const uint64_t stored = c.records.load();
        if (stored != total || c.broken.load() + c.bad_signature.load() + c.errors.load() != 0) {
          std::fprintf(stderr, "stored %llu of %llu records (%llu refused, %llu errors)\n",
                       static_cast<unsigned long long>(stored), static_cast<unsigned long long>(total),
                       static_cast<unsigned long long>(c.broken.load() + c.bad_signature.load()),
                       static_cast<unsigned long long>(c.errors.load()));
          return 1;
        }
        rates.push_back(static_cast<double>(total) / s);
        cpu_rates.push_back(static_cast<double>(total) / cpu);
        std::printf("%s run %d: %.3f s wall, %.0f records/s; %.3f s CPU, %.0f records per CPU-second; %llu commits\n",
                    group ? "group" : "page", run + 1, s, rates.back(), cpu, cpu_rates.back(),
                    static_cast<unsigned long long>(c.commits.load()));
      }
      std::filesystem::remove_all(dir);
    }
    std::sort(rates.begin(), rates.end());
    std::sort(cpu_rates.begin(), cpu_rates.end());
    std::printf("median (%s): %.0f records/s ingested and verified (wall), %.0f records per CPU-second (SQLite in %s)\n",
                group ? "group commit, the server's path" : "one transaction per page", rates[rates.size() / 2],
                cpu_rates[cpu_rates.size() / 2], base.string().c_str());
  }
  return 0;
}
