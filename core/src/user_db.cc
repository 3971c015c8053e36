#include "mortise/core/user_db.h"

#include "mortise/core/schedule.h"

#include <cstring>

#include "codec.h"
#include "mortise/crypto/hash.h"
#include "mortise/crypto/secret.h"

namespace mortise::core {
namespace {

using internal::Reader;
using internal::Writer;

constexpr uint8_t kRecordVersion = 1;
constexpr char kDigestKeyLabel[] = "mortise-cred-digest-v1";

// Slot ids: 0 is the programming PIN, then each type's indices in turn.
constexpr uint16_t kPinBase = 1;
constexpr uint16_t kRfidBase = kPinBase + config::kMaxPinCredentials;
constexpr uint16_t kFingerprintBase = kRfidBase + config::kMaxRfidCredentials;
constexpr uint16_t kFingerVeinBase = kFingerprintBase + config::kMaxFingerprintCredentials;
constexpr uint16_t kFaceBase = kFingerVeinBase + config::kMaxFingerVeinCredentials;
static_assert(kFaceBase + config::kMaxFaceCredentials == config::kTotalCredentialSlots);

uint16_t TypeBase(CredentialType t) {
  switch (t) {
    case CredentialType::kProgrammingPIN: return 0;
    case CredentialType::kPin: return kPinBase;
    case CredentialType::kRfid: return kRfidBase;
    case CredentialType::kFingerprint: return kFingerprintBase;
    case CredentialType::kFingerVein: return kFingerVeinBase;
    case CredentialType::kFace: return kFaceBase;
    case CredentialType::kAliroCredentialIssuerKey:
    case CredentialType::kAliroEvictableEndpointKey:
    case CredentialType::kAliroNonEvictableEndpointKey: break;  // never stored
  }
  return 0;
}

LockDataType DataTypeOf(CredentialType t) {
  switch (t) {
    case CredentialType::kProgrammingPIN: return LockDataType::kProgrammingCode;
    case CredentialType::kPin: return LockDataType::kPin;
    case CredentialType::kRfid: return LockDataType::kRfid;
    case CredentialType::kFingerprint: return LockDataType::kFingerprint;
    case CredentialType::kFingerVein: return LockDataType::kFingerVein;
    case CredentialType::kFace: return LockDataType::kFace;
    case CredentialType::kAliroCredentialIssuerKey:
    case CredentialType::kAliroEvictableEndpointKey:
    case CredentialType::kAliroNonEvictableEndpointKey: break;  // never stored
  }
  return LockDataType::kUnspecified;
}

bool ValidStatus(UserStatus s) { return s == UserStatus::kOccupiedEnabled || s == UserStatus::kOccupiedDisabled; }
bool ValidType(UserType t) { return static_cast<uint8_t>(t) < kUserTypeCount; }
bool ValidRule(CredentialRule r) { return static_cast<uint8_t>(r) <= 2; }
bool ValidCredentialType(CredentialType t) { return static_cast<uint8_t>(t) < kCredentialTypeCount; }

bool ValidWeekDay(const WeekDaySchedule& s) {
  if (s.days_mask == 0 || (s.days_mask & 0x80) != 0) return false;
  if (s.start_hour > 23 || s.end_hour > 23 || s.start_minute > 59 || s.end_minute > 59) return false;
  return s.start_hour * 60 + s.start_minute < s.end_hour * 60 + s.end_minute;
}

bool ValidYearDay(const YearDaySchedule& s) { return s.local_end > s.local_start; }

void EncodeUser(Writer& w, const User& u) {
  w.U8(kRecordVersion);
  w.U8(static_cast<uint8_t>(u.status));
  w.U8(static_cast<uint8_t>(u.type));
  w.U8(static_cast<uint8_t>(u.rule));
  w.U8(u.name_length);
  w.Bytes(u.name, u.name_length);
  w.U32(u.unique_id);
  w.U8(u.creator);
  w.U8(u.last_modifier);
  w.U32(u.expires_at_utc);
  w.U8(config::kWeekDaySchedulesPerUser);
  for (const auto& s : u.week_day) {
    w.U8(s.days_mask);
    w.U8(s.start_hour);
    w.U8(s.start_minute);
    w.U8(s.end_hour);
    w.U8(s.end_minute);
  }
  w.U8(config::kYearDaySchedulesPerUser);
  for (const auto& s : u.year_day) {
    w.U32(s.local_start);
    w.U32(s.local_end);
  }
}

bool DecodeUser(std::span<const uint8_t> in, User& u) {
  Reader r(in);
  if (r.U8() != kRecordVersion) return false;
  u.status = static_cast<UserStatus>(r.U8());
  u.type = static_cast<UserType>(r.U8());
  u.rule = static_cast<CredentialRule>(r.U8());
  u.name_length = r.U8();
  if (u.name_length > config::kMaxUserNameLength) return false;
  r.Bytes(u.name, u.name_length);
  u.unique_id = r.U32();
  u.creator = r.U8();
  u.last_modifier = r.U8();
  u.expires_at_utc = r.U32();
  // A record written by a build with other schedule capacities loads what fits.
  uint8_t wd = r.U8();
  for (uint8_t i = 0; i < wd; ++i) {
    WeekDaySchedule s;
    s.days_mask = r.U8();
    s.start_hour = r.U8();
    s.start_minute = r.U8();
    s.end_hour = r.U8();
    s.end_minute = r.U8();
    if (s.used() && !ValidWeekDay(s)) return false;
    if (i < config::kWeekDaySchedulesPerUser) u.week_day[i] = s;
  }
  uint8_t yd = r.U8();
  for (uint8_t i = 0; i < yd; ++i) {
    YearDaySchedule s;
    s.local_start = r.U32();
    s.local_end = r.U32();
    if (s.used() && !ValidYearDay(s)) return false;
    if (i < config::kYearDaySchedulesPerUser) u.year_day[i] = s;
  }
  return r.done() && ValidStatus(u.status) && ValidType(u.type) && ValidRule(u.rule);
}

class LoadVisitor : public RecordVisitor {
 public:
  explicit LoadVisitor(void (*fn)(void*, uint32_t, std::span<const uint8_t>), void* ctx) : fn_(fn), ctx_(ctx) {}
  void Visit(uint32_t key, std::span<const uint8_t> value) override { fn_(ctx_, key, value); }

 private:
  void (*fn_)(void*, uint32_t, std::span<const uint8_t>);
  void* ctx_;
};

}  // namespace

UserDatabase::UserDatabase(DurableStore& store, EventSink& events) : store_(store), events_(events) {
  for (auto& i : index_) i = kEmpty;
}

// --- Slot ids and validation ------------------------------------------------

uint16_t UserDatabase::MaxIndex(CredentialType type) {
  switch (type) {
    case CredentialType::kProgrammingPIN: return 0;
    case CredentialType::kPin: return config::kMaxPinCredentials;
    case CredentialType::kRfid: return config::kMaxRfidCredentials;
    case CredentialType::kFingerprint: return config::kMaxFingerprintCredentials;
    case CredentialType::kFingerVein: return config::kMaxFingerVeinCredentials;
    case CredentialType::kFace: return config::kMaxFaceCredentials;
    case CredentialType::kAliroCredentialIssuerKey:
    case CredentialType::kAliroEvictableEndpointKey:
    case CredentialType::kAliroNonEvictableEndpointKey: break;  // never stored
  }
  return 0;
}

bool UserDatabase::ValidCredentialIndex(CredentialRef c) {
  if (!ValidCredentialType(c.type)) return false;
  if (c.type == CredentialType::kProgrammingPIN) return c.index == 0;
  return c.index >= 1 && c.index <= MaxIndex(c.type);
}

uint16_t UserDatabase::SlotId(CredentialRef c) {
  return c.type == CredentialType::kProgrammingPIN ? 0 : static_cast<uint16_t>(TypeBase(c.type) + c.index - 1);
}

CredentialRef UserDatabase::RefOf(uint16_t id) {
  if (id == 0) return {CredentialType::kProgrammingPIN, 0};
  const CredentialType order[] = {CredentialType::kFace, CredentialType::kFingerVein, CredentialType::kFingerprint,
                                  CredentialType::kRfid, CredentialType::kPin};
  for (CredentialType t : order)
    if (id >= TypeBase(t)) return {t, static_cast<uint16_t>(id - TypeBase(t) + 1)};
  return {CredentialType::kPin, 0};
}

bool UserDatabase::DataLengthValid(CredentialType type, size_t n) {
  switch (type) {
    case CredentialType::kProgrammingPIN:
    case CredentialType::kPin: return n >= config::kMinPinLength && n <= config::kMaxPinLength;
    case CredentialType::kRfid: return n >= config::kMinRfidLength && n <= config::kMaxRfidLength;
    default: return n >= config::kMinBiometricLength && n <= config::kMaxBiometricLength;
  }
}

// --- Digest index -------------------------------------------------------------

void UserDatabase::Digest(CredentialType type, std::span<const uint8_t> data, uint8_t out[kCredentialDigestSize]) const {
  static_assert(kCredentialDigestSize == crypto::kCmacSize);
  const uint8_t type_byte = static_cast<uint8_t>(type);
  digester_.Mac(std::span(&type_byte, 1), data, std::span<uint8_t, crypto::kCmacSize>(out, kCredentialDigestSize));
}

void UserDatabase::InstallSecret(std::span<const uint8_t, 32> secret) {
  crypto::HmacSha256 kdf(secret);
  crypto::Digest key;
  kdf.Mac(std::span(reinterpret_cast<const uint8_t*>(kDigestKeyLabel), sizeof(kDigestKeyLabel) - 1), key);
  digester_.SetKey(std::span<const uint8_t, 16>(key.data(), 16));
  crypto::SecureZero(key.data(), key.size());
}

static uint16_t HomeBucket(const uint8_t* digest, uint16_t size) {
  return static_cast<uint16_t>((digest[0] | (digest[1] << 8)) & (size - 1));
}

uint16_t UserDatabase::IndexLookup(const uint8_t digest[kCredentialDigestSize]) const {
  uint16_t b = HomeBucket(digest, kIndexSize);
  for (uint16_t probes = 0; probes < kIndexSize; ++probes) {
    uint16_t id = index_[b];
    if (id == kEmpty) return kEmpty;
    if (crypto::ConstantTimeEqual(std::span(slots_[id].digest), std::span(digest, kCredentialDigestSize))) return id;
    b = static_cast<uint16_t>((b + 1) & (kIndexSize - 1));
  }
  return kEmpty;
}

void UserDatabase::IndexInsert(uint16_t id) {
  uint16_t b = HomeBucket(slots_[id].digest, kIndexSize);
  while (index_[b] != kEmpty) b = static_cast<uint16_t>((b + 1) & (kIndexSize - 1));
  index_[b] = id;
}

// Linear probing deletion by backward shift: keeps every chain unbroken
// without tombstones, so lookups never degrade with churn.
void UserDatabase::IndexRemove(uint16_t id) {
  const uint16_t mask = kIndexSize - 1;
  uint16_t b = HomeBucket(slots_[id].digest, kIndexSize);
  while (index_[b] != id) {
    if (index_[b] == kEmpty) return;
    b = static_cast<uint16_t>((b + 1) & mask);
  }
  uint16_t hole = b;
  uint16_t next = static_cast<uint16_t>((hole + 1) & mask);
  while (index_[next] != kEmpty) {
    uint16_t home = HomeBucket(slots_[index_[next]].digest, kIndexSize);
    // Move the entry back if its home is not in (hole, next].
    bool in_range = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
    if (!in_range) {
      index_[hole] = index_[next];
      hole = next;
    }
    next = static_cast<uint16_t>((next + 1) & mask);
  }
  index_[hole] = kEmpty;
}

void UserDatabase::RebuildIndex() {
  for (auto& i : index_) i = kEmpty;
  for (uint16_t id = 0; id < config::kTotalCredentialSlots; ++id)
    if (slots_[id].user != 0) IndexInsert(id);
}

// --- Persistence --------------------------------------------------------------

Status UserDatabase::WriteUser(uint16_t index, const User& u) {
  const uint32_t key = MakeRecordKey(kRecordUser, index);
  if (!u.occupied()) return store_.Erase(key);
  uint8_t buf[kMaxRecordSize];
  Writer w(buf);
  EncodeUser(w, u);
  if (!w.ok()) return StatusCode::kInternal;
  return store_.Write(key, w.written());
}

Status UserDatabase::WriteSlot(uint16_t id, const Slot& s) {
  const uint32_t key = MakeRecordKey(kRecordCredential, id);
  if (s.user == 0) return store_.Erase(key);
  uint8_t buf[32];
  Writer w(buf);
  w.U8(kRecordVersion);
  w.U16(s.user);
  w.U8(s.creator);
  w.U8(s.last_modifier);
  w.Bytes(s.digest, kCredentialDigestSize);
  return store_.Write(key, w.written());
}

Status UserDatabase::WriteHoliday(uint8_t index, const HolidaySchedule& h) {
  const uint32_t key = MakeRecordKey(kRecordHoliday, index);
  if (!h.used()) return store_.Erase(key);
  uint8_t buf[16];
  Writer w(buf);
  w.U8(kRecordVersion);
  w.U32(h.local_start);
  w.U32(h.local_end);
  w.U8(static_cast<uint8_t>(h.mode));
  return store_.Write(key, w.written());
}

Status UserDatabase::Load(std::span<const uint8_t, 32> new_secret_if_absent) {
  uint8_t secret[kMaxRecordSize];
  auto got = store_.Read(MakeRecordKey(kRecordSecret, 0), secret);
  const StatusCode code = got.ok() ? StatusCode::kOk : got.status().code();
  if (code == StatusCode::kNotFound) {
    // First start: install the new secret on an empty database.
    crypto::SecureZero(secret, sizeof(secret));
    return Wipe(new_secret_if_absent);
  }
  if (code != StatusCode::kOk && code != StatusCode::kResourceExhausted && code != StatusCode::kDataLoss)
    return got.status();
  if (code == StatusCode::kOk && *got == 33 && secret[0] == kRecordVersion) {
    InstallSecret(std::span<const uint8_t, 32>(secret + 1, 32));
  } else {
    // A corrupt secret makes every stored digest unverifiable. Keep the
    // users and schedules, drop only their credentials (counted), and start
    // a new secret: an administrator re-enrols credentials, nobody is wiped.
    ++dropped_records_;
    for (uint16_t id = 0; id < config::kTotalCredentialSlots; ++id)
      MORTISE_TRY(store_.Erase(MakeRecordKey(kRecordCredential, id)));
    uint8_t rec[33];
    rec[0] = kRecordVersion;
    std::memcpy(rec + 1, new_secret_if_absent.data(), 32);
    Status w = store_.Write(MakeRecordKey(kRecordSecret, 0), rec);
    crypto::SecureZero(rec, sizeof(rec));
    MORTISE_TRY(w);
    InstallSecret(new_secret_if_absent);
  }
  crypto::SecureZero(secret, sizeof(secret));

  for (auto& u : users_) u = User();
  for (auto& s : slots_) s = Slot();
  for (auto& h : holidays_) h = HolidaySchedule();

  LoadVisitor users(
      [](void* ctx, uint32_t key, std::span<const uint8_t> v) {
        auto* self = static_cast<UserDatabase*>(ctx);
        uint16_t i = RecordIndex(key);
        User u;
        if (!ValidUserIndex(i) || !DecodeUser(v, u)) {
          ++self->dropped_records_;
          return;
        }
        self->users_[i - 1] = u;
      },
      this);
  MORTISE_TRY(store_.ForEach(MakeRecordKey(kRecordUser, 0), MakeRecordKey(kRecordUser, 0xFFFF), users));

  LoadVisitor creds(
      [](void* ctx, uint32_t key, std::span<const uint8_t> v) {
        auto* self = static_cast<UserDatabase*>(ctx);
        uint16_t id = RecordIndex(key);
        Reader r(v);
        Slot s;
        uint8_t version = r.U8();
        s.user = r.U16();
        s.creator = r.U8();
        s.last_modifier = r.U8();
        r.Bytes(s.digest, kCredentialDigestSize);
        // Slot 0 is the programming PIN; only a programming user holds it.
        if (version != kRecordVersion || !r.done() || id >= config::kTotalCredentialSlots ||
            self->user(s.user) == nullptr ||
            (id == 0 && self->users_[s.user - 1].type != UserType::kProgrammingUser)) {
          ++self->dropped_records_;
          return;
        }
        self->slots_[id] = s;
      },
      this);
  MORTISE_TRY(store_.ForEach(MakeRecordKey(kRecordCredential, 0), MakeRecordKey(kRecordCredential, 0xFFFF), creds));

  LoadVisitor holidays(
      [](void* ctx, uint32_t key, std::span<const uint8_t> v) {
        auto* self = static_cast<UserDatabase*>(ctx);
        uint16_t i = RecordIndex(key);
        Reader r(v);
        HolidaySchedule h;
        uint8_t version = r.U8();
        h.local_start = r.U32();
        h.local_end = r.U32();
        h.mode = static_cast<OperatingMode>(r.U8());
        if (version != kRecordVersion || !r.done() || i < 1 || i > config::kHolidaySchedules ||
            h.local_end <= h.local_start || static_cast<uint8_t>(h.mode) >= kOperatingModeCount) {
          ++self->dropped_records_;
          return;
        }
        self->holidays_[i - 1] = h;
      },
      this);
  MORTISE_TRY(store_.ForEach(MakeRecordKey(kRecordHoliday, 0), MakeRecordKey(kRecordHoliday, 0xFFFF), holidays));

  RebuildIndex();
  return Status::Ok();
}

Status UserDatabase::Wipe(std::span<const uint8_t, 32> new_secret) {
  // Erase record by record: a power cut part-way leaves a consistent subset
  // (credentials go before their users), and the new secret goes last.
  for (uint16_t id = 0; id < config::kTotalCredentialSlots; ++id)
    MORTISE_TRY(store_.Erase(MakeRecordKey(kRecordCredential, id)));
  for (uint16_t i = 1; i <= config::kMaxUsers; ++i) MORTISE_TRY(store_.Erase(MakeRecordKey(kRecordUser, i)));
  for (uint8_t i = 1; i <= config::kHolidaySchedules; ++i) MORTISE_TRY(store_.Erase(MakeRecordKey(kRecordHoliday, i)));
  uint8_t rec[33];
  rec[0] = kRecordVersion;
  std::memcpy(rec + 1, new_secret.data(), 32);
  Status s = store_.Write(MakeRecordKey(kRecordSecret, 0), rec);
  crypto::SecureZero(rec, sizeof(rec));
  MORTISE_TRY(s);
  InstallSecret(new_secret);
  for (auto& u : users_) u = User();
  for (auto& sl : slots_) sl = Slot();
  for (auto& h : holidays_) h = HolidaySchedule();
  RebuildIndex();
  return Status::Ok();
}

// --- Helpers ------------------------------------------------------------------

const User* UserDatabase::user(uint16_t i) const {
  if (!ValidUserIndex(i) || !users_[i - 1].occupied()) return nullptr;
  return &users_[i - 1];
}

uint8_t UserDatabase::CredentialCount(uint16_t user_index) const {
  uint8_t n = 0;
  for (const auto& s : slots_)
    if (s.user == user_index) ++n;
  return n;
}

std::optional<uint16_t> UserDatabase::NextFreeCredential(CredentialRef c) const {
  if (c.type == CredentialType::kProgrammingPIN || !ValidCredentialType(c.type)) return std::nullopt;
  for (uint32_t i = uint32_t(c.index) + 1; i <= MaxIndex(c.type); ++i)
    if (slots_[SlotId({c.type, uint16_t(i)})].user == 0) return uint16_t(i);
  return std::nullopt;
}

std::optional<uint16_t> UserDatabase::NextOccupiedCredential(CredentialRef c) const {
  if (c.type == CredentialType::kProgrammingPIN || !ValidCredentialType(c.type)) return std::nullopt;
  for (uint32_t i = uint32_t(c.index) + 1; i <= MaxIndex(c.type); ++i)
    if (slots_[SlotId({c.type, uint16_t(i)})].user != 0) return uint16_t(i);
  return std::nullopt;
}

std::optional<uint16_t> UserDatabase::FirstFreeUser() const {
  for (uint16_t i = 1; i <= config::kMaxUsers; ++i)
    if (!users_[i - 1].occupied()) return i;
  return std::nullopt;
}

void UserDatabase::EmitUserChange(LockDataType type, DataOperationType op, uint16_t user_index, uint16_t data_index,
                                  OperationSource source) {
  LockEvent e;
  e.kind = EventKind::kLockUserChange;
  e.data_type = type;
  e.data_operation = op;
  e.user_index = user_index;
  e.data_index = data_index;
  e.source = source;
  events_.Emit(e);
}

std::optional<CredentialMatch> UserDatabase::Find(CredentialType type, std::span<const uint8_t> data) const {
  if (!ValidCredentialType(type) || data.size() > config::kMaxCredentialDataLength) return std::nullopt;
  uint8_t digest[kCredentialDigestSize];
  Digest(type, data, digest);
  uint16_t id = IndexLookup(digest);
  crypto::SecureZero(digest, sizeof(digest));
  if (id == kEmpty) return std::nullopt;
  CredentialRef ref = RefOf(id);
  // The digest covers the type, so a hit is always of the requested type.
  if (ref.type != type) return std::nullopt;
  return CredentialMatch{slots_[id].user, ref};
}

Status UserDatabase::UpdateUserState(uint16_t user_index, UserStatus status, uint32_t expires_at_utc,
                                     OperationSource source) {
  if (user(user_index) == nullptr || !ValidStatus(status)) return StatusCode::kNotFound;
  User u = users_[user_index - 1];
  const bool status_changed = u.status != status;
  u.status = status;
  u.expires_at_utc = expires_at_utc;
  MORTISE_TRY(WriteUser(user_index, u));
  users_[user_index - 1] = u;
  if (status_changed) EmitUserChange(LockDataType::kUserIndex, DataOperationType::kModify, user_index, user_index, source);
  return Status::Ok();
}

// --- Users ----------------------------------------------------------------------

DlStatus UserDatabase::SetUser(const SetUserRequest& req, const Actor& actor) {
  if (!ValidUserIndex(req.user_index)) return DlStatus::kInvalidField;
  if (req.user_name && req.user_name->size() > config::kMaxUserNameLength) return DlStatus::kInvalidField;
  if (req.user_status && !ValidStatus(*req.user_status)) return DlStatus::kInvalidField;
  if (req.user_type && !ValidType(*req.user_type)) return DlStatus::kInvalidField;
  if (req.credential_rule && !ValidRule(*req.credential_rule)) return DlStatus::kInvalidField;

  User u = users_[req.user_index - 1];
  if (req.operation == DataOperationType::kAdd) {
    if (u.occupied()) return DlStatus::kOccupied;
    u = User();
    u.status = req.user_status.value_or(UserStatus::kOccupiedEnabled);
    u.type = req.user_type.value_or(UserType::kUnrestrictedUser);
    u.rule = req.credential_rule.value_or(CredentialRule::kSingle);
    u.unique_id = req.user_unique_id.value_or(0xFFFFFFFF);
    u.creator = actor.id;
  } else if (req.operation == DataOperationType::kModify) {
    if (!u.occupied()) return DlStatus::kInvalidField;
    // Only the creator may rename or re-identify a user (Matter's fabric rule).
    if (u.creator != actor.id && (req.user_name || req.user_unique_id)) return DlStatus::kInvalidField;
    // The programming PIN's holder stays a programming user.
    if (req.user_type && *req.user_type != UserType::kProgrammingUser && slots_[0].user == req.user_index)
      return DlStatus::kInvalidField;
    // Re-enabling a user or changing its type starts any expiry afresh, so an
    // administrator can renew an expired guest.
    if ((req.user_status == UserStatus::kOccupiedEnabled && u.status == UserStatus::kOccupiedDisabled) ||
        (req.user_type && *req.user_type != u.type))
      u.expires_at_utc = 0;
    if (req.user_status) u.status = *req.user_status;
    if (req.user_type) u.type = *req.user_type;
    if (req.credential_rule) u.rule = *req.credential_rule;
    if (req.user_unique_id) u.unique_id = *req.user_unique_id;
  } else {
    return DlStatus::kInvalidField;
  }
  if (req.user_name) {
    u.name_length = static_cast<uint8_t>(req.user_name->size());
    std::memset(u.name, 0, sizeof(u.name));
    std::memcpy(u.name, req.user_name->data(), u.name_length);
  }
  u.last_modifier = actor.id;
  if (!WriteUser(req.user_index, u).ok()) return DlStatus::kFailure;
  users_[req.user_index - 1] = u;
  EmitUserChange(LockDataType::kUserIndex, req.operation, req.user_index, req.user_index, actor.source);
  return DlStatus::kSuccess;
}

GetUserResponse UserDatabase::GetUser(uint16_t user_index) const {
  GetUserResponse r;
  r.user_index = user_index;
  if (!ValidUserIndex(user_index)) {
    r.status = DlStatus::kInvalidField;
    return r;
  }
  for (uint32_t i = uint32_t(user_index) + 1; i <= config::kMaxUsers; ++i) {
    if (users_[i - 1].occupied()) {
      r.next_user_index = uint16_t(i);
      break;
    }
  }
  const User& u = users_[user_index - 1];
  if (!u.occupied()) return r;
  r.occupied = true;
  r.user = u;
  for (uint16_t id = 0; id < config::kTotalCredentialSlots && r.credential_count < config::kMaxCredentialsPerUser; ++id)
    if (slots_[id].user == user_index) r.credentials[r.credential_count++] = RefOf(id);
  return r;
}

Status UserDatabase::ClearUserRecords(uint16_t user_index) {
  MORTISE_TRY(store_.Begin());
  Status s = store_.Erase(MakeRecordKey(kRecordUser, user_index));
  for (uint16_t id = 0; s.ok() && id < config::kTotalCredentialSlots; ++id)
    if (slots_[id].user == user_index) s = store_.Erase(MakeRecordKey(kRecordCredential, id));
  if (s.ok()) s = store_.Commit();
  if (!s.ok()) {
    store_.Rollback();
    return s;
  }
  for (uint16_t id = 0; id < config::kTotalCredentialSlots; ++id) {
    if (slots_[id].user == user_index) {
      IndexRemove(id);
      slots_[id] = Slot();
    }
  }
  users_[user_index - 1] = User();
  return Status::Ok();
}

DlStatus UserDatabase::ClearUser(uint16_t user_index, const Actor& actor) {
  if (user_index == kClearAllIndex16) {
    for (uint16_t i = 1; i <= config::kMaxUsers; ++i)
      if (users_[i - 1].occupied() && !ClearUserRecords(i).ok()) return DlStatus::kFailure;
    EmitUserChange(LockDataType::kUserIndex, DataOperationType::kClear, kClearAllIndex16, kClearAllIndex16,
                   actor.source);
    return DlStatus::kSuccess;
  }
  if (!ValidUserIndex(user_index)) return DlStatus::kInvalidField;
  if (users_[user_index - 1].occupied() && !ClearUserRecords(user_index).ok()) return DlStatus::kFailure;
  EmitUserChange(LockDataType::kUserIndex, DataOperationType::kClear, user_index, user_index, actor.source);
  return DlStatus::kSuccess;
}

// --- Credentials ------------------------------------------------------------------

SetCredentialResponse UserDatabase::SetCredential(const SetCredentialRequest& req, const Actor& actor) {
  SetCredentialResponse r;
  const CredentialRef c = req.credential;
  r.next_credential_index = NextFreeCredential(c);
  auto fail = [&r](DlStatus s) {
    r.status = s;
    return r;
  };
  if (!ValidCredentialIndex(c)) return fail(DlStatus::kInvalidField);
  if (!DataLengthValid(c.type, req.credential_data.size())) return fail(DlStatus::kInvalidField);
  if (c.type == CredentialType::kPin || c.type == CredentialType::kProgrammingPIN) {
    for (uint8_t b : req.credential_data)
      if (b < '0' || b > '9') return fail(DlStatus::kInvalidField);
  }
  if (req.user_status && !ValidStatus(*req.user_status)) return fail(DlStatus::kInvalidField);
  if (req.user_type && !ValidType(*req.user_type)) return fail(DlStatus::kInvalidField);

  const uint16_t id = SlotId(c);
  Slot slot = slots_[id];
  uint8_t digest[kCredentialDigestSize];
  Digest(c.type, req.credential_data, digest);
  const uint16_t existing = IndexLookup(digest);
  // The same data in another slot of the same type is a duplicate (the digest
  // covers the type, so other types never collide). Rewriting a slot with its
  // own data is not.
  if (existing != kEmpty && existing != id) return fail(DlStatus::kDuplicate);
  // Mortise: a user PIN never equals the programming PIN (either way round),
  // or its holder would enter the keypad's programming menu with it.
  if (c.type == CredentialType::kPin || c.type == CredentialType::kProgrammingPIN) {
    const CredentialType other = c.type == CredentialType::kPin ? CredentialType::kProgrammingPIN : CredentialType::kPin;
    uint8_t other_digest[kCredentialDigestSize];
    Digest(other, req.credential_data, other_digest);
    const bool clash = IndexLookup(other_digest) != kEmpty;
    crypto::SecureZero(other_digest, sizeof(other_digest));
    if (clash) return fail(DlStatus::kDuplicate);
  }
  const bool programming = c.type == CredentialType::kProgrammingPIN;

  if (req.operation == DataOperationType::kAdd) {
    if (slot.user != 0) return fail(DlStatus::kOccupied);
    // A ProgrammingUser holds the programming PIN and is made only with it.
    if ((req.user_type == UserType::kProgrammingUser) != programming && req.user_type.has_value())
      return fail(DlStatus::kInvalidField);
    uint16_t user_index;
    User u;
    bool create_user = !req.user_index.has_value();
    if (create_user) {
      auto free_user = FirstFreeUser();
      if (!free_user) return fail(DlStatus::kResourceExhausted);
      user_index = *free_user;
      u.status = req.user_status.value_or(UserStatus::kOccupiedEnabled);
      u.type = programming ? UserType::kProgrammingUser : req.user_type.value_or(UserType::kUnrestrictedUser);
      u.creator = actor.id;
      u.last_modifier = actor.id;
    } else {
      if (req.user_status || req.user_type) return fail(DlStatus::kInvalidField);
      user_index = *req.user_index;
      if (user(user_index) == nullptr) return fail(DlStatus::kInvalidField);
      // The programming PIN belongs to a programming user and to no one else.
      if (c.type == CredentialType::kProgrammingPIN && users_[user_index - 1].type != UserType::kProgrammingUser)
        return fail(DlStatus::kInvalidField);
      if (CredentialCount(user_index) >= config::kMaxCredentialsPerUser) return fail(DlStatus::kResourceExhausted);
      u = users_[user_index - 1];
      u.last_modifier = actor.id;
    }
    slot.user = user_index;
    slot.creator = actor.id;
    slot.last_modifier = actor.id;
    std::memcpy(slot.digest, digest, kCredentialDigestSize);
    Status s = store_.Begin();
    if (s.ok()) s = WriteUser(user_index, u);
    if (s.ok()) s = WriteSlot(id, slot);
    if (s.ok()) s = store_.Commit();
    if (!s.ok()) {
      store_.Rollback();
      return fail(s.code() == StatusCode::kResourceExhausted ? DlStatus::kResourceExhausted : DlStatus::kFailure);
    }
    users_[user_index - 1] = u;
    slots_[id] = slot;
    IndexInsert(id);
    if (create_user) {
      EmitUserChange(LockDataType::kUserIndex, DataOperationType::kAdd, user_index, user_index, actor.source);
      r.user_index = user_index;
    }
    EmitUserChange(DataTypeOf(c.type), DataOperationType::kAdd, user_index, c.index, actor.source);
    r.status = DlStatus::kSuccess;
    return r;
  }

  if (req.operation == DataOperationType::kModify) {
    if (slot.user == 0) return fail(DlStatus::kInvalidField);
    // Matter's "modify the programming PIN": user index and status null,
    // user type ProgrammingUser (or null); any other modify: both null.
    if (req.user_status || (req.user_type && !(programming && *req.user_type == UserType::kProgrammingUser)))
      return fail(DlStatus::kInvalidField);
    if (req.user_index && *req.user_index != slot.user) return fail(DlStatus::kInvalidField);
    if (!req.user_index && !programming) return fail(DlStatus::kInvalidField);
    Slot updated = slot;
    updated.last_modifier = actor.id;
    std::memcpy(updated.digest, digest, kCredentialDigestSize);
    if (!WriteSlot(id, updated).ok()) return fail(DlStatus::kFailure);
    IndexRemove(id);
    slots_[id] = updated;
    IndexInsert(id);
    EmitUserChange(DataTypeOf(c.type), DataOperationType::kModify, slot.user,
                   c.type == CredentialType::kProgrammingPIN ? 0 : c.index, actor.source);
    r.status = DlStatus::kSuccess;
    return r;
  }
  return fail(DlStatus::kInvalidField);
}

GetCredentialStatusResponse UserDatabase::GetCredentialStatus(CredentialRef c) const {
  GetCredentialStatusResponse r;
  r.next_credential_index = NextOccupiedCredential(c);
  if (!ValidCredentialIndex(c)) return r;
  const Slot& s = slots_[SlotId(c)];
  if (s.user == 0) return r;
  r.credential_exists = true;
  if (c.type != CredentialType::kProgrammingPIN) r.user_index = s.user;
  r.creator = s.creator;
  r.last_modifier = s.last_modifier;
  return r;
}

DlStatus UserDatabase::ClearOneCredential(CredentialRef c, const Actor& actor, bool emit_event) {
  const uint16_t id = SlotId(c);
  const uint16_t owner = slots_[id].user;
  if (owner == 0) return DlStatus::kSuccess;
  if (CredentialCount(owner) == 1) {
    // A user's last credential takes the user with it (Matter's rule).
    if (!ClearUserRecords(owner).ok()) return DlStatus::kFailure;
    EmitUserChange(LockDataType::kUserIndex, DataOperationType::kClear, owner, owner, actor.source);
    return DlStatus::kSuccess;
  }
  User u = users_[owner - 1];
  u.last_modifier = actor.id;
  Status s = store_.Begin();
  if (s.ok()) s = store_.Erase(MakeRecordKey(kRecordCredential, id));
  if (s.ok()) s = WriteUser(owner, u);
  if (s.ok()) s = store_.Commit();
  if (!s.ok()) {
    store_.Rollback();
    return DlStatus::kFailure;
  }
  IndexRemove(id);
  slots_[id] = Slot();
  users_[owner - 1] = u;
  if (emit_event) EmitUserChange(DataTypeOf(c.type), DataOperationType::kClear, owner, c.index, actor.source);
  return DlStatus::kSuccess;
}

DlStatus UserDatabase::ClearCredentialType(CredentialType type, const Actor& actor) {
  for (uint16_t i = 1; i <= MaxIndex(type); ++i) {
    DlStatus s = ClearOneCredential({type, i}, actor, /*emit_event=*/false);
    if (s != DlStatus::kSuccess) return s;
  }
  EmitUserChange(DataTypeOf(type), DataOperationType::kClear, kClearAllIndex16, kClearAllIndex16, actor.source);
  return DlStatus::kSuccess;
}

DlStatus UserDatabase::ClearCredential(std::optional<CredentialRef> credential, const Actor& actor) {
  if (!credential) {
    const CredentialType all[] = {CredentialType::kPin, CredentialType::kRfid, CredentialType::kFingerprint,
                                  CredentialType::kFingerVein, CredentialType::kFace};
    for (CredentialType t : all) {
      DlStatus s = ClearCredentialType(t, actor);
      if (s != DlStatus::kSuccess) return s;
    }
    return DlStatus::kSuccess;
  }
  const CredentialRef c = *credential;
  if (!ValidCredentialType(c.type)) return DlStatus::kInvalidField;
  // The cluster: ClearCredential's type is never ProgrammingPIN (one slot or
  // all of the type): the programming PIN is changed, or goes with its user.
  if (c.type == CredentialType::kProgrammingPIN) return DlStatus::kInvalidField;
  if (c.index == kClearAllIndex16) return ClearCredentialType(c.type, actor);
  if (!ValidCredentialIndex(c)) return DlStatus::kInvalidField;
  return ClearOneCredential(c, actor, /*emit_event=*/true);
}

// --- Schedules ----------------------------------------------------------------------

// Week-day and year-day schedules follow the same rules and differ only in
// the array they live in, their validation and their LockDataType.
template <typename S, size_t N>
DlStatus UserDatabase::SetSchedule(S (User::*slots)[N], LockDataType type, uint8_t index, uint16_t user_index,
                                   const S& s, bool valid, const Actor& actor) {
  if (index < 1 || index > N || !ValidUserIndex(user_index)) return DlStatus::kInvalidField;
  if (user(user_index) == nullptr) return DlStatus::kFailure;
  if (!valid) return DlStatus::kInvalidField;
  User u = users_[user_index - 1];
  (u.*slots)[index - 1] = s;
  if (u.type == UserType::kUnrestrictedUser) u.type = UserType::kScheduleRestrictedUser;
  u.last_modifier = actor.id;
  if (!WriteUser(user_index, u).ok()) return DlStatus::kFailure;
  users_[user_index - 1] = u;
  EmitUserChange(type, DataOperationType::kAdd, user_index, index, actor.source);
  return DlStatus::kSuccess;
}

template <typename S, size_t N>
DlStatus UserDatabase::GetSchedule(S (User::*slots)[N], uint8_t index, uint16_t user_index, S* out) const {
  if (index < 1 || index > N || !ValidUserIndex(user_index)) return DlStatus::kInvalidField;
  if (user(user_index) == nullptr || !(users_[user_index - 1].*slots)[index - 1].used()) return DlStatus::kNotFound;
  *out = (users_[user_index - 1].*slots)[index - 1];
  return DlStatus::kSuccess;
}

template <typename S, size_t N>
DlStatus UserDatabase::ClearSchedule(S (User::*slots)[N], LockDataType type, uint8_t index, uint16_t user_index,
                                     const Actor& actor) {
  if (!ValidUserIndex(user_index) || ((index < 1 || index > N) && index != kClearAllIndex8))
    return DlStatus::kInvalidField;
  if (user(user_index) == nullptr) return DlStatus::kFailure;
  User u = users_[user_index - 1];
  for (uint8_t i = 1; i <= N; ++i)
    if (index == kClearAllIndex8 || index == i) (u.*slots)[i - 1] = S();
  u.last_modifier = actor.id;
  if (!WriteUser(user_index, u).ok()) return DlStatus::kFailure;
  users_[user_index - 1] = u;
  EmitUserChange(type, DataOperationType::kClear, user_index, index, actor.source);
  return DlStatus::kSuccess;
}

DlStatus UserDatabase::SetWeekDaySchedule(uint8_t index, uint16_t user_index, const WeekDaySchedule& s,
                                          const Actor& actor) {
  return SetSchedule(&User::week_day, LockDataType::kWeekDaySchedule, index, user_index, s, ValidWeekDay(s), actor);
}

GetWeekDayScheduleResponse UserDatabase::GetWeekDaySchedule(uint8_t index, uint16_t user_index) const {
  GetWeekDayScheduleResponse r;
  r.week_day_index = index;
  r.user_index = user_index;
  r.status = GetSchedule(&User::week_day, index, user_index, &r.schedule);
  return r;
}

DlStatus UserDatabase::ClearWeekDaySchedule(uint8_t index, uint16_t user_index, const Actor& actor) {
  return ClearSchedule(&User::week_day, LockDataType::kWeekDaySchedule, index, user_index, actor);
}

DlStatus UserDatabase::SetYearDaySchedule(uint8_t index, uint16_t user_index, const YearDaySchedule& s,
                                          const Actor& actor) {
  return SetSchedule(&User::year_day, LockDataType::kYearDaySchedule, index, user_index, s, ValidYearDay(s), actor);
}

GetYearDayScheduleResponse UserDatabase::GetYearDaySchedule(uint8_t index, uint16_t user_index) const {
  GetYearDayScheduleResponse r;
  r.year_day_index = index;
  r.user_index = user_index;
  r.status = GetSchedule(&User::year_day, index, user_index, &r.schedule);
  return r;
}

DlStatus UserDatabase::ClearYearDaySchedule(uint8_t index, uint16_t user_index, const Actor& actor) {
  return ClearSchedule(&User::year_day, LockDataType::kYearDaySchedule, index, user_index, actor);
}

DlStatus UserDatabase::SetHolidaySchedule(uint8_t index, const HolidaySchedule& s, const Actor& actor) {
  if (index < 1 || index > config::kHolidaySchedules) return DlStatus::kInvalidField;
  if (s.local_end <= s.local_start || static_cast<uint8_t>(s.mode) >= kOperatingModeCount)
    return DlStatus::kInvalidField;
  if (!WriteHoliday(index, s).ok()) return DlStatus::kFailure;
  holidays_[index - 1] = s;
  // Holidays change the lock's mode, so their changes are logged too.
  EmitUserChange(LockDataType::kHolidaySchedule, DataOperationType::kAdd, 0, index, actor.source);
  return DlStatus::kSuccess;
}

GetHolidayScheduleResponse UserDatabase::GetHolidaySchedule(uint8_t index) const {
  GetHolidayScheduleResponse r;
  r.holiday_index = index;
  if (index < 1 || index > config::kHolidaySchedules) {
    r.status = DlStatus::kInvalidField;
  } else if (!holidays_[index - 1].used()) {
    r.status = DlStatus::kNotFound;
  } else {
    r.schedule = holidays_[index - 1];
  }
  return r;
}

DlStatus UserDatabase::ClearHolidaySchedule(uint8_t index, const Actor& actor) {
  if ((index < 1 || index > config::kHolidaySchedules) && index != kClearAllIndex8) return DlStatus::kInvalidField;
  for (uint8_t i = 1; i <= config::kHolidaySchedules; ++i) {
    if (index != kClearAllIndex8 && index != i) continue;
    if (!WriteHoliday(i, HolidaySchedule()).ok()) return DlStatus::kFailure;
    holidays_[i - 1] = HolidaySchedule();
  }
  EmitUserChange(LockDataType::kHolidaySchedule, DataOperationType::kClear, 0, index, actor.source);
  return DlStatus::kSuccess;
}

// Declared in schedule.h; lives with the database it reads (the engine), so
// the core model (schedule.cc) references no UserDatabase.
std::optional<OperatingMode> HolidayMode(const UserDatabase& db, const std::optional<LocalTime>& now) {
  if (!now) return std::nullopt;
  for (uint8_t i = 0; i < config::kHolidaySchedules; ++i) {
    const HolidaySchedule& h = db.holiday(i);
    if (h.used() && now->epoch_s >= static_cast<int64_t>(h.local_start) &&
        now->epoch_s < static_cast<int64_t>(h.local_end))
      return h.mode;
  }
  return std::nullopt;
}

}  // namespace mortise::core
