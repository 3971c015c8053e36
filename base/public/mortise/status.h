// Error values for all Mortise code.
//
// Portable modules never throw: every fallible function returns a Status or a
// Result<T>, both [[nodiscard]], so an ignored error is a compile error.
#pragma once

#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace mortise {

// Generic error codes. Modules with a standard vocabulary of their own (the
// Matter door-lock DlStatus, for example) keep it in their own enums and use
// Status only for infrastructure failures.
// The numbers are on the wire (ClaimError.code, SessionError.code,
// Response.status, RemoteResultTbs.envelope_status; docs/protocol.md section
// 3.1): fixed forever, a new code takes the next free number.
enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument = 1,     // the caller passed something malformed
  kNotFound = 2,            // the thing named does not exist
  kAlreadyExists = 3,       // creating something that is already there
  kResourceExhausted = 4,   // a fixed capacity is full
  kFailedPrecondition = 5,  // the system is not in a state that allows this
  kPermissionDenied = 6,    // authenticated, but not allowed
  kUnauthenticated = 7,     // could not prove who is asking
  kOutOfRange = 8,          // a value outside its valid range
  kUnavailable = 9,         // temporarily not possible (locked out, busy)
  kDataLoss = 10,           // stored data is corrupt or missing
  kAborted = 11,            // a transaction was abandoned
  kInternal = 12,           // an invariant broke; a bug
  kUnimplemented = 13,      // the backend does not provide this
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  constexpr Status() = default;
  constexpr Status(StatusCode code) : code_(code) {}  // NOLINT: implicit by design

  static constexpr Status Ok() { return Status(); }
  constexpr bool ok() const { return code_ == StatusCode::kOk; }
  constexpr StatusCode code() const { return code_; }
  const char* name() const { return StatusCodeName(code_); }

  // Explicitly discards a status the caller has decided not to handle.
  constexpr void IgnoreError() const {}

  friend constexpr bool operator==(Status a, Status b) { return a.code_ == b.code_; }

 private:
  StatusCode code_ = StatusCode::kOk;
};

inline const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
    case StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kDataLoss: return "DATA_LOSS";
    case StatusCode::kAborted: return "ABORTED";
    case StatusCode::kInternal: return "INTERNAL";
    case StatusCode::kUnimplemented: return "UNIMPLEMENTED";
  }
  return "UNKNOWN";
}

// A value or the Status that explains why there is none. Never holds an OK
// status without a value.
template <typename T>
class [[nodiscard]] Result {
 public:
  constexpr Result(const T& value) : status_(), has_value_(true) {  // NOLINT
    new (&storage_) T(value);
  }
  constexpr Result(T&& value) : status_(), has_value_(true) {  // NOLINT
    new (&storage_) T(std::move(value));
  }
  constexpr Result(Status status)  // NOLINT
      : status_(status.ok() ? Status(StatusCode::kInternal) : status), has_value_(false) {}
  constexpr Result(StatusCode code) : Result(Status(code)) {}  // NOLINT

  Result(const Result& other) : status_(other.status_), has_value_(other.has_value_) {
    if (has_value_) new (&storage_) T(other.value());
  }
  Result& operator=(const Result& other) {
    if (this != &other) {
      Reset();
      status_ = other.status_;
      has_value_ = other.has_value_;
      if (has_value_) new (&storage_) T(other.value());
    }
    return *this;
  }
  ~Result() { Reset(); }

  constexpr bool ok() const { return has_value_; }
  constexpr Status status() const { return status_; }

  // Precondition: ok(). Portable code checks ok() first; there is no throw.
  T& value() & { return *std::launder(reinterpret_cast<T*>(&storage_)); }
  const T& value() const& { return *std::launder(reinterpret_cast<const T*>(&storage_)); }
  T&& value() && { return std::move(*std::launder(reinterpret_cast<T*>(&storage_))); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  T value_or(const T& fallback) const { return has_value_ ? value() : fallback; }
  constexpr void IgnoreError() const {}

 private:
  void Reset() {
    if (has_value_) value().~T();
    has_value_ = false;
  }

  Status status_;
  bool has_value_;
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace mortise

#define MORTISE_CONCAT_INNER(a, b) a##b
#define MORTISE_CONCAT(a, b) MORTISE_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define MORTISE_TRY(expr)                                  \
  do {                                                     \
    const ::mortise::Status mortise_try_status_ = (expr);  \
    if (!mortise_try_status_.ok()) return mortise_try_status_; \
  } while (0)

// Evaluates a Result<T>; on error returns its Status, else assigns the value.
#define MORTISE_ASSIGN_OR_RETURN(lhs, expr) \
  MORTISE_ASSIGN_OR_RETURN_IMPL(MORTISE_CONCAT(mortise_result_, __LINE__), lhs, expr)
#define MORTISE_ASSIGN_OR_RETURN_IMPL(result, lhs, expr) \
  auto result = (expr);                                  \
  if (!result.ok()) return result.status();              \
  lhs = std::move(result.value())
