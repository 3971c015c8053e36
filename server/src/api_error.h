// The error every server library throws for an answer the client must see:
// an HTTP status, a stable snake_case code, and a message a person can act
// on. The router turns it into {"error":{"code":...,"message":...}}; any
// other exception becomes 500 "internal" (StorageError: 503).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace mortise::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  // Seconds the client should wait (a Retry-After header); 0: none.
  int64_t retry_after_s() const { return retry_after_s_; }
  ApiError& WithRetryAfter(int64_t s) {
    retry_after_s_ = s;
    return *this;
  }

 private:
  int status_;
  std::string code_;
  int64_t retry_after_s_ = 0;
};

// The database failed (not a "not found"): 503 storage_unavailable.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mortise::server
