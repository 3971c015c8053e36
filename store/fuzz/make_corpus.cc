// Writes the seed corpus for store_mount_fuzzer into the directory given as
// argv[1]: flash images of small valid stores and logs (fresh, after churn
// and compaction, after a log roll, torn mid-write, a record edited at rest
// with its CRC fixed), a few exported log
// streams, and garbage. Re-run after a format change:
//   build/store/store_make_fuzz_corpus store/fuzz/corpus/mount
#include <cstdio>
#include <string>
#include <vector>

#include "../src/crc.h"
#include "mortise/store/audit_log.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/record_store.h"

using namespace mortise;
using namespace mortise::store;

namespace {

constexpr size_t kBlock = 1024;
constexpr uint8_t kKey[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                              17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
constexpr LogChallenge kChallenge = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

struct Collect : LogItemSink {
  void Put(const LogItem& item) override {
    uint8_t buf[128];
    Result<size_t> n = EncodeLogItem(item, buf);
    if (n.ok()) bytes.insert(bytes.end(), buf, buf + *n);
  }
  std::vector<uint8_t> bytes;
};

// Edits the first short event of the newest segment and fixes its CRC, as
// someone with the image but not the key would (A02 at rest).
void EditNewestRecord(std::vector<uint8_t>& log_mem) {
  size_t newest = 0;
  uint32_t number = 0;
  bool found = false;
  for (size_t b = 0; b + kBlock <= log_mem.size(); b += kBlock) {
    if (internal::GetLe32(&log_mem[b]) == 0x32474C4D && (!found || internal::GetLe32(&log_mem[b + 4]) > number)) {
      newest = b;
      number = internal::GetLe32(&log_mem[b + 4]);
      found = true;
    }
  }
  if (!found || log_mem[newest + 36] != 0xA1) return;
  uint8_t* r = &log_mem[newest + 36];
  r[7] ^= 0x01;
  internal::PutLe16(r + 18, internal::Crc16(std::span<const uint8_t>(r, 18)));
}

// One image: workload of `steps`, optionally cut (torn) at operation `cut`,
// optionally with a record edited at rest afterwards.
void Image(const std::string& dir, const char* name, int steps, uint64_t cut, bool edit = false) {
  std::vector<uint8_t> store_mem(4 * kBlock), log_mem(3 * kBlock);
  std::vector<uint32_t> sc(4), lc(3);
  FakeFlash store_flash(store_mem, sc, kBlock, 5);
  FakeFlash log_flash(log_mem, lc, kBlock, 6);
  if (cut != FakeFlash::kNever) store_flash.CutPowerAt(cut, FakeFlash::CutMode::kTorn);
  StaticRecordStore<64> s(store_flash);
  HmacLogAuthenticator auth(kKey);
  AuditLog log(log_flash, s.store, auth);
  if (!s.store.Mount().ok() || !log.Mount().ok()) return;
  for (int i = 0; i < steps; ++i) {
    uint8_t v[24];
    for (int k = 0; k < 24; ++k) v[k] = static_cast<uint8_t>(i * 7 + k);
    if (!s.store.Begin().ok()) break;
    s.store.Write(core::MakeRecordKey(0x10, static_cast<uint16_t>(i % 9)), std::span<const uint8_t>(v, 8 + i % 16)).IgnoreError();
    s.store.Write(core::MakeRecordKey(0x11, static_cast<uint16_t>(i % 9)), v).IgnoreError();
    if (!s.store.Commit().ok()) break;
    if (i % 5 == 0) s.store.Erase(core::MakeRecordKey(0x10, static_cast<uint16_t>((i + 3) % 9))).IgnoreError();
    s.store.IncrementCounter(static_cast<uint16_t>(i % 3)).IgnoreError();
    core::LockEvent e;
    e.user_index = static_cast<uint16_t>(i);
    e.utc_seconds = 1767225600 + i;
    e.monotonic_ms = static_cast<uint64_t>(i) * 1000;
    e.has_credential = true;
    if (i % 11 == 0) e.alarm = core::AlarmCode::kDoorForcedOpen;  // long form
    log.Append(e).IgnoreError();
    if (i % 40 == 39) log.Acknowledge(log.next_seq() - 1).IgnoreError();
  }
  if (edit) EditNewestRecord(log_mem);
  std::vector<uint8_t> file(1, 0);  // mode byte: mount
  file.insert(file.end(), store_mem.begin(), store_mem.end());
  file.insert(file.end(), log_mem.begin(), log_mem.end());
  // Trailing erased bytes add nothing; keep files small.
  while (file.size() > 1 && file.back() == 0xFF) file.pop_back();
  WriteFile(dir + "/" + name, file);
  if (cut == FakeFlash::kNever) {
    Collect c;
    c.bytes.push_back(1);  // mode byte: verify stream
    c.bytes.push_back(0);  // expected first sequence number (low byte)
    if (log.Export(0, kChallenge, c).ok()) WriteFile(dir + "/" + name + ".export", c.bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s corpus-dir\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  Image(dir, "empty", 0, FakeFlash::kNever);
  Image(dir, "small", 5, FakeFlash::kNever);
  Image(dir, "churn", 60, FakeFlash::kNever);
  Image(dir, "rolled", 130, FakeFlash::kNever);
  Image(dir, "torn", 40, 57);
  Image(dir, "edited-at-rest", 30, FakeFlash::kNever, true);
  TestPrng prng(1);
  std::vector<uint8_t> garbage(2000);
  for (auto& b : garbage) b = static_cast<uint8_t>(prng.Next());
  garbage[0] = 0;
  WriteFile(dir + "/garbage-image", garbage);
  garbage[0] = 1;
  WriteFile(dir + "/garbage-stream", garbage);
  return 0;
}
