// Fuzzes everything the core decodes from storage at start-up: settings,
// lockout and time records, users, credential slots and holidays. The input
// is a sequence of records [kind u16][index u16][length u8][bytes]; they are
// written to an in-memory store and the lock is started on it, then asked to
// decide a PIN and describe its users. No input may crash it or leave an
// invalid record loaded.
#include <cstddef>
#include <cstdint>

#include "mortise/sim/sim_lock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mortise;
  sim::MemoryStore store;
  size_t pos = 0;
  while (pos + 5 <= size) {
    const uint16_t kind = static_cast<uint16_t>(data[pos] | (data[pos + 1] << 8)) & 0x1F;
    const uint16_t index = static_cast<uint16_t>(data[pos + 2] | (data[pos + 3] << 8));
    size_t len = data[pos + 4];
    pos += 5;
    if (len > size - pos) len = size - pos;
    (void)store.Write(core::MakeRecordKey(kind, index), std::span<const uint8_t>(data + pos, len));
    pos += len;
  }
  sim::SimLock lock(&store, 1);
  if (!lock.Start().ok()) return 0;
  const uint8_t pin[] = {'1', '2', '3', '4', '5', '6'};
  (void)lock.lock().PresentCredential(core::OperationSource::kKeypad, core::CredentialType::kPin, pin);
  for (uint16_t i = 1; i <= 8; ++i) {
    auto u = lock.lock().users().GetUser(i);
    if (u.occupied && u.user.name_length > core::config::kMaxUserNameLength) __builtin_trap();
  }
  lock.Run(100);
  return 0;
}
