#include "entropy.h"

#include <sys/random.h>

#include <cerrno>

#include "error.h"

namespace mortise::cli {

Status GetrandomEntropy::Fill(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return StatusCode::kUnavailable;
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

crypto::Drbg& SystemDrbg() {
  static GetrandomEntropy entropy;
  static crypto::Drbg drbg(entropy);
  if (!drbg.seeded()) {
    static const char kPersonalization[] = "mortise-cli";
    if (!drbg.Seed(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kPersonalization), sizeof kPersonalization - 1)).ok())
      throw Error(ExitCode::kInternal, "the random generator could not be seeded (getrandom failed)");
  }
  return drbg;
}

}  // namespace mortise::cli
