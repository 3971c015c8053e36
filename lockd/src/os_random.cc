#include "os_random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace mortise::lockd {

Status OsEntropy::Fill(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return StatusCode::kUnavailable;
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

void OsRandom::Fill(std::span<uint8_t> out) {
  OsEntropy e;
  if (!e.Fill(out).ok()) {
    std::fputs("mortise-lockd: getrandom failed; refusing to continue without randomness\n", stderr);
    std::abort();
  }
}

}  // namespace mortise::lockd
