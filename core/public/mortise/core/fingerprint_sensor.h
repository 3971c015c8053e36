// Facade: biometric sensors (fingerprint, finger vein, face). The sensor
// matches on its own and reports the enrolled template id, or no match.
#pragma once

#include <cstdint>

#include "mortise/core/config.h"
#include "mortise/core/types.h"

namespace mortise::core {

struct BiometricRead {
  CredentialType type = CredentialType::kFingerprint;  // kFingerprint, kFingerVein or kFace
  bool matched = false;
  uint8_t template_id[config::kMaxBiometricLength] = {};
  uint8_t length = 0;
};

class FingerprintSensor {
 public:
  virtual bool Poll(BiometricRead& out) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~FingerprintSensor() = default;
};

}  // namespace mortise::core
