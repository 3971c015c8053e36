// Test vectors for a second implementation of the Mortise protocol
// (issue 9 item 6). Every file of vectors/ is made by one function of this
// library from fixed keys and seeded randomness, so the files are byte-exact
// across runs and machines; `mortise-vectors DIR` writes them and the
// `vectors` tests regenerate them in memory and compare byte for byte.
//
// Adding a kind of vector: write one `Json MakeSomething()` in vectors.cc
// (FixedKey, SeededDrbg, SignedJson, Lock), add one line to the table
// in Kinds(), run `mortise-vectors vectors/` (or the `vectors-regenerate`
// target), describe the file in vectors/README.md and add a check that
// decodes and verifies it with the library's public functions to
// test/vectors_test.cc. The byte-for-byte test picks the file up by itself.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mortise/crypto/deterministic_entropy.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/identity.h"

namespace mortise::vectors {

// Insertion-ordered, so the files keep the order the generator writes.
using Json = nlohmann::ordered_json;
using Bytes = std::vector<uint8_t>;

struct VectorKind {
  std::string_view file;  // name in vectors/, e.g. "certificates.json"
  Json (*make)();
};

// Every kind, in the order the files are listed in vectors/README.md.
std::span<const VectorKind> Kinds();

// The file's bytes: two-space indented JSON and a final newline.
std::string Render(const Json& document);

std::string Hex(std::span<const uint8_t> bytes);
Bytes FromHex(std::string_view hex);  // throws std::invalid_argument on bad hex
// `v` as `n` bytes little-endian (the protocol's counters, docs/protocol.md 3.2).
Bytes Le(uint64_t v, size_t n);

// A DRBG seeded from a fixed 64-bit seed (crypto::DeterministicEntropy).
class SeededDrbg {
 public:
  explicit SeededDrbg(uint64_t seed);
  crypto::Drbg& drbg() { return drbg_; }

 private:
  crypto::DeterministicEntropy entropy_;
  crypto::Drbg drbg_;
};

// The random input k' (RFC 6979 section 3.6) a hedged signature draws from a
// DRBG seeded with `seed` as its first request (P256KeyPair::SignDigest
// draws 32 bytes). Objects signed once with a fresh SeededDrbg(seed) are
// reproduced by SignDigestWithNonceInput(digest, HedgeInput(seed)).
std::array<uint8_t, 32> HedgeInput(uint64_t seed);

// The fixed keys every file uses: scalar = SHA-256("mortise-vectors/" +
// name). Public so a second implementation can sign with them.
crypto::P256KeyPair FixedKey(std::string_view name);

// SHA-256(domain with its terminating zero || tbs): what every signature of
// the protocol covers.
std::array<uint8_t, 32> DomainDigest(std::string_view domain, std::span<const uint8_t> tbs);

// Splits a signed envelope {bytes tbs = 1; bytes signature = 2;} as the
// protocol encodes it (0x0A len tbs 0x12 len signature, lengths as
// varints). Throws std::invalid_argument on anything else.
struct Signed {
  Bytes tbs;
  Bytes signature;
};
Signed SplitSigned(std::span<const uint8_t> envelope);

// Storage compatibility images (store/testdata/compat/README.md): writes
// records.img and log.img as mortise-lockd lays them out (its default
// [storage] sizes), log-stream.bin (an export of that log) and
// manifest.json (what a reader must find in them) into `dir`. Run once per
// format version into a new vN folder; never over a checked-in one.
// Throws std::runtime_error on any failure.
inline constexpr size_t kCompatBlockSize = 4096;
inline constexpr size_t kCompatRecordBlocks = 64;  // lockd store_kib 256
inline constexpr size_t kCompatLogBlocks = 16;     // lockd log_kib 64
void WriteCompatImages(const std::string& dir);

}  // namespace mortise::vectors
