// Fuzzes everything that parses flash or exported log bytes (A13):
//  - input[0] even: input[1..] is a flash image (a 4 KiB record store of four
//    1 KiB blocks, then a 3 KiB audit log); both are mounted, read in full,
//    written to, exported and verified, and mounted again;
//  - input[0] odd: input[1..] is a stream of exported log items, decoded and
//    fed to the verifier.
// No crash, no hang, no sanitizer report; corrupt input yields statuses.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mortise/store/audit_log.h"
#include "mortise/store/fake_flash.h"
#include "mortise/store/record_store.h"

namespace {

using namespace mortise;
using namespace mortise::store;

constexpr size_t kBlock = 1024;
constexpr size_t kStoreBlocks = 4;
constexpr size_t kLogBlocks = 3;
constexpr uint8_t kKey[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                              17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
constexpr LogChallenge kChallenge = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

struct NullVisitor : core::RecordVisitor {
  void Visit(uint32_t, std::span<const uint8_t> value) override { bytes += value.size(); }
  size_t bytes = 0;
};

struct Verify : LogItemSink {
  Verify(const LogAuthenticator& auth, uint64_t first) : verifier(auth, kChallenge, first) {}
  void Put(const LogItem& item) override { verifier.Feed(item); }
  LogVerifier verifier;
};

void MountImage(const uint8_t* data, size_t size) {
  static uint8_t store_mem[kStoreBlocks * kBlock];
  static uint8_t log_mem[kLogBlocks * kBlock];
  uint32_t store_counts[kStoreBlocks], log_counts[kLogBlocks];
  FakeFlash store_flash(store_mem, store_counts, kBlock);
  FakeFlash log_flash(log_mem, log_counts, kBlock);
  const size_t to_store = size < sizeof(store_mem) ? size : sizeof(store_mem);
  std::memcpy(store_mem, data, to_store);
  if (size > to_store) {
    const size_t rest = size - to_store;
    std::memcpy(log_mem, data + to_store, rest < sizeof(log_mem) ? rest : sizeof(log_mem));
  }
  HmacLogAuthenticator auth(kKey);
  for (int round = 0; round < 2; ++round) {
    StaticRecordStore<64> s(store_flash);
    const Status mounted = s.store.Mount();
    if (!mounted.ok() && mounted.code() != StatusCode::kResourceExhausted) return;
    NullVisitor visitor;
    s.store.ForEach(0, 0xFFFFFFFF, visitor).IgnoreError();
    uint8_t buf[core::kMaxRecordSize];
    s.store.Read(core::MakeRecordKey(1, 1), buf).IgnoreError();
    s.store.ReadCounter(core::kCounterBootEpoch).IgnoreError();
    AuditLog log(log_flash, s.store, auth);
    if (log.Mount().ok()) {
      Verify verify(auth, log.acknowledged() + 1);
      log.Export(0, kChallenge, verify).IgnoreError();
      verify.verifier.Finish();
      core::LockEvent e;
      e.user_index = 3;
      log.Append(e).IgnoreError();
    }
    const uint8_t value[5] = {1, 2, 3, 4, 5};
    s.store.Write(core::MakeRecordKey(1, 1), value).IgnoreError();
    s.store.IncrementCounter(core::kCounterBootEpoch).IgnoreError();
  }
}

void VerifyStream(const uint8_t* data, size_t size) {
  HmacLogAuthenticator auth(kKey);
  LogVerifier verifier(auth, kChallenge, data && size ? data[0] : 0);
  std::span<const uint8_t> in(data, size);
  while (!in.empty()) {
    LogItem item;
    Result<size_t> n = DecodeLogItem(in, item);
    if (!n.ok()) break;
    verifier.Feed(item);
    if (item.type == LogItemType::kRecord) {
      DecodeLogRecord(item.seq, std::span<const uint8_t>(item.bytes.data(), item.length)).IgnoreError();
    }
    uint8_t out[128];
    EncodeLogItem(item, out).IgnoreError();
    in = in.subspan(*n);
  }
  verifier.Finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    MountImage(data + 1, size - 1);
  } else {
    VerifyStream(data + 1, size - 1);
  }
  return 0;
}
