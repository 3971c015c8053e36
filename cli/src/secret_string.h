// A std::string for passphrases and serialized secrets that wipes its
// bytes (sodium_memzero) when it is destroyed or cleared. Copies are
// disallowed so a secret is not duplicated by accident.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace mortise::cli {

// Zeroes the bytes of `s` (its whole capacity) and empties it.
void WipeString(std::string& s);

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value) : value_(std::move(value)) {}
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) { WipeString(other.value_); }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      WipeString(value_);
      value_ = std::move(other.value_);
      WipeString(other.value_);
    }
    return *this;
  }
  ~SecretString() { WipeString(value_); }

  std::string_view view() const { return value_; }
  const std::string& str() const { return value_; }
  std::string& mutable_str() { return value_; }
  bool empty() const { return value_.empty(); }
  size_t size() const { return value_.size(); }

 private:
  std::string value_;
};

}  // namespace mortise::cli
