// Published known-answer vectors for every primitive of mortise_crypto, as hex
// strings, kept apart from the tests so that a second backend's tests can
// include the same file. Each block names its source document. The values
// were also cross-checked against an independent implementation (Python's
// hashlib and the `cryptography` package) when this file was written.
#pragma once

namespace mortise::crypto::vectors {

// --- HKDF-SHA256: RFC 5869 appendix A, test cases 1-3 ---
struct HkdfVector {
  const char* ikm;
  const char* salt;
  const char* info;
  unsigned length;
  const char* prk;
  const char* okm;
};
inline constexpr HkdfVector kHkdf[] = {
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
     "f0f1f2f3f4f5f6f7f8f9", 42,
     "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
    {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
     "404142434445464748494a4b4c4d4e4f",
     "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
     "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
     "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
     "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
     "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
     82, "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
     "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
     "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
     "cc30c58179ec3e87c14c01d5c1f3434f1d87"},
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "", 42,
     "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
};

// --- PBKDF2-HMAC-SHA256: RFC 7914 section 11 ---
struct Pbkdf2Vector {
  const char* password;  // ASCII
  const char* salt;      // ASCII
  unsigned iterations;
  const char* dk;
};
inline constexpr Pbkdf2Vector kPbkdf2[] = {
    {"passwd", "salt", 1,
     "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
     "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"},
    {"Password", "NaCl", 80000,
     "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
     "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"},
};

// --- AES-128-CCM, 13-byte nonce, 16-byte tag: NIST CAVP CCM test vectors
// (VTT128.rsp "Variable Tag", Tlen = 16, Count 7 as numbered in mbedTLS's
// test_suite_ccm.data; and the P=0, A=0 case from the same CAVP set). ---
struct CcmVector {
  const char* key;
  const char* nonce;
  const char* aad;
  const char* plaintext;
  const char* ciphertext_and_tag;
};
inline constexpr CcmVector kCcm[] = {
    {"4189351b5caea375a0299e81c621bf43", "48c0906930561e0ab0ef4cd972",
     "40a27c1d1e23ea3dbe8056b2774861a4a201cce49f19997d19206d8c8a343951",
     "4535d12b4377928a7c0a61c9f825a48671ea05910748c8ef",
     "26c56961c035a7e452cce61bc6ee220d77b3f94d18fd10b6d80e8bf80f4a46cab06d4313f0db9be9"},
    {"54caf96ef6d448734700aadab50faf7a", "a3803e752ae849c910d8da36af", "", "",
     "eba8347baa6d61f87b67c2dd7c6d2053"},
};

// --- CTR_DRBG AES-256 with derivation function, no prediction resistance:
// NIST CAVP drbgvectors (CTR_DRBG.rsp, [AES-256 use df], EntropyInputLen 256,
// NonceLen 128, PersonalizationStringLen 256, AdditionalInputLen 0,
// ReturnedBitsLen 512, COUNT 0), the vector mbedTLS's own self-test uses.
// Procedure: instantiate(entropy || nonce, personalization), reseed(entropy),
// generate 64 bytes, generate 64 bytes; the second output is checked. ---
inline constexpr const char* kCtrDrbgEntropy =  // entropy(32) || nonce(16) || reseed entropy(32)
    "4cfb218673346d9d50c922e49b0dfcd090adf04f5c3ba47327dfcd6fa63a785c"
    "016962a7fd2787a24bf6be47ef3783f1"
    "b7ec46072363834a1b0133f2c23891db4f11a68651f23e3a8b1fdc03b192c7e7";
inline constexpr const char* kCtrDrbgPersonalization =
    "88eeb8e0e83bf3294bdacd6099ebe4bf55ecd9113f71e5ebcb4575f3d6a68a6b";
inline constexpr const char* kCtrDrbgOutput =
    "a55180a190bef3adaf28f6b795e9f1f3d6dfa1b27dd0467b0c75f5fa931e9714"
    "75b27cae03a29654e2f40966ea33643040d1400fe677873af8097c1fe9f00298";

// --- ECDSA P-256 / SHA-256: RFC 6979 appendix A.2.5 (deterministic k) ---
inline constexpr const char* kEcdsaPrivate =
    "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
inline constexpr const char* kEcdsaPublic =
    "04"
    "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
    "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
struct EcdsaVector {
  const char* message;  // ASCII
  const char* signature;  // r || s
};
inline constexpr EcdsaVector kEcdsa[] = {
    {"sample",
     "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
     "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"},
    {"test",
     "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367"
     "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083"},
};

// --- ECDH P-256: RFC 5903 section 8.1, and NIST CAVP ECC CDH
// (KAS_ECC_CDH_PrimitiveTest.txt, [P-256], COUNT 0) ---
struct EcdhVector {
  const char* private_scalar;
  const char* own_public;  // uncompressed
  const char* peer_public;  // uncompressed
  const char* shared_x;
};
inline constexpr EcdhVector kEcdh[] = {
    {"c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
     "04dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180"
     "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
     "04d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63"
     "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
     "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de"},
    {"7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534",
     "04ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230"
     "28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141",
     "04700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287"
     "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac",
     "46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b"},
};

// --- SPAKE2+ P256-SHA256-HKDF-SHA256-HMAC-SHA256: RFC 9383 appendix C ---
struct Spake2pVector {
  const char* context;
  const char* prover_id;
  const char* verifier_id;
  const char* w0;
  const char* w1;
  const char* L;
  const char* x;
  const char* share_p;
  const char* y;
  const char* share_v;
  const char* confirm_p;  // HMAC(K_confirmP, shareV)
  const char* confirm_v;  // HMAC(K_confirmV, shareP)
  const char* shared_key;  // K_shared
};
inline constexpr Spake2pVector kSpake2p = {
    "SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256 Test Vectors",
    "client",
    "server",
    "bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3",
    "7e945f34d78785b8a3ef44d0df5a1a97d6b3b460409a345ca7830387a74b1dba",
    "04eb7c9db3d9a9eb1f8adab81b5794c1f13ae3e225efbe91ea487425854c7fc00f"
    "00bfedcbd09b2400142d40a14f2064ef31dfaa903b91d1faea7093d835966efd",
    "d1232c8e8693d02368976c174e2088851b8365d0d79a9eee709c6a05a2fad539",
    "04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1"
    "de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727",
    "717a72348a182085109c8d3917d6c43d59b224dc6a7fc4f0483232fa6516d8b3",
    "04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb"
    "5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048",
    "926cc713504b9b4d76c9162ded04b5493e89109f6d89462cd33adc46fda27527",
    "9747bcc4f8fe9f63defee53ac9b07876d907d55047e6ff2def2e7529089d3e68",
    "0c5f8ccd1413423a54f6c1fb26ff01534a87f893779c6e68666d772bfd91f3e7",
};

}  // namespace mortise::crypto::vectors
