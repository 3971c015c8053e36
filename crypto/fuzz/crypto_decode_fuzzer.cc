// Fuzzes every crypto entry point that takes bytes from the wire:
// public-key import (both encodings), signature verification, AEAD opening,
// and the PAKE server's and client's message parsing.
//
// Input layout: byte 0 selects the decoder; the rest is the untrusted input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/crypto/aead.h"
#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/p256.h"
#include "mortise/crypto/pake.h"

namespace mortise::crypto {
namespace {

// The RFC 6979 A.2.5 key, so signatures in the corpus can be valid.
constexpr uint8_t kPublicKey[65] = {
    0x04, 0x60, 0xfe, 0xd4, 0xba, 0x25, 0x5a, 0x9d, 0x31, 0xc9, 0x61, 0xeb, 0x74, 0xc6, 0x35,
    0x6d, 0x68, 0xc0, 0x49, 0xb8, 0x92, 0x3b, 0x61, 0xfa, 0x6c, 0xe6, 0x69, 0x62, 0x2e, 0x60,
    0xf2, 0x9f, 0xb6, 0x79, 0x03, 0xfe, 0x10, 0x08, 0xb8, 0xbc, 0x99, 0xa4, 0x1a, 0xe9, 0xe9,
    0x56, 0x28, 0xbc, 0x64, 0xf2, 0xf1, 0xb2, 0x0c, 0x2d, 0x7e, 0x9f, 0x51, 0x77, 0xa3, 0xc2,
    0x94, 0xd4, 0x46, 0x22, 0x99};

void FuzzOne(uint8_t selector, std::span<const uint8_t> in) {
  DeterministicEntropy entropy(1);
  Drbg drbg(entropy);
  if (!drbg.Seed().ok()) __builtin_trap();
  const uint8_t context[] = {'f', 'u', 'z', 'z'};
  PakeProverSecret secret;
  for (size_t i = 0; i < 32; ++i) {
    secret.w0.data()[i] = static_cast<uint8_t>(i + 1);
    secret.w1.data()[i] = static_cast<uint8_t>(i + 7);
  }

  switch (selector % 5) {
    case 0: {  // public key import; a valid key must round-trip
      auto key = P256PublicKey::Import(in);
      if (key.ok()) {
        auto again = P256PublicKey::Import(key->Compressed());
        if (!again.ok() || !(*again == *key)) __builtin_trap();
      }
      break;
    }
    case 1: {  // signature: message = "sample", signature = input
      static auto key = P256PublicKey::Import(kPublicKey);
      if (!key.ok()) __builtin_trap();
      const uint8_t msg[] = {'s', 'a', 'm', 'p', 'l', 'e'};
      key->Verify(msg, in).IgnoreError();
      break;
    }
    case 2: {  // PAKE server parsing shareP then confirmP
      PakeVerifier verifier;
      if (!ComputePakeVerifier(secret, verifier).ok()) __builtin_trap();
      PakeServer server(verifier, context, {}, {});
      std::array<uint8_t, kPakeServerMessageSize> out;
      const auto share = in.first(in.size() < kPakeShareSize ? in.size() : kPakeShareSize);
      if (server.Respond(share, drbg, out).ok()) {
        server.Confirm(in.subspan(share.size())).IgnoreError();
      }
      break;
    }
    case 3: {  // PAKE client parsing the server's message
      PakeClient client(secret, context, {}, {});
      std::array<uint8_t, kPakeShareSize> m1;
      std::array<uint8_t, kPakeConfirmSize> m3;
      if (!client.Start(drbg, m1).ok()) __builtin_trap();
      client.Finish(in, drbg, m3).IgnoreError();
      break;
    }
    case 4: {  // AEAD open: 13-byte nonce, then the sealed message
      const uint8_t key[kAes128KeySize] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
      AesCcm128 ccm(key);
      const auto nonce = in.first(in.size() < kCcmNonceSize ? in.size() : kCcmNonceSize);
      const auto sealed = in.subspan(nonce.size());
      uint8_t plain[512];
      const size_t n = sealed.size() >= kCcmTagSize ? sealed.size() - kCcmTagSize : 0;
      if (n <= sizeof(plain)) {
        ccm.Open(nonce, {}, sealed, std::span<uint8_t>(plain, n)).IgnoreError();
      }
      break;
    }
  }
}

}  // namespace
}  // namespace mortise::crypto

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  mortise::crypto::FuzzOne(data[0], std::span<const uint8_t>(data + 1, size - 1));
  return 0;
}
