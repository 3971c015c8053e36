#include "mortise/store/file_flash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace mortise::store {
namespace {

constexpr char kTrailerMagic[16] = {'M', 'O', 'R', 'T', 'I', 'S', 'E', '-', 'F', 'L', 'A', 'S', 'H', ' ', 'v', '1'};
constexpr size_t kTrailerSize = sizeof(kTrailerMagic) + 8;

bool FullPread(int fd, void* buf, size_t n, off_t at) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n) {
    const ssize_t r = pread(fd, p, n, at);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    at += r;
  }
  return true;
}

bool FullPwrite(int fd, const void* buf, size_t n, off_t at) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (n) {
    const ssize_t r = pwrite(fd, p, n, at);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    at += r;
  }
  return true;
}

void PutLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

}  // namespace

Result<std::unique_ptr<FileFlash>> FileFlash::Open(const std::string& path, size_t block_size, size_t block_count) {
  if (block_size == 0 || block_size % kProgramUnit != 0 || block_count == 0 ||
      block_size * block_count > 0x7FFFFFFF) {
    return StatusCode::kInvalidArgument;
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return StatusCode::kUnavailable;
  return Adopt(fd, block_size, block_count);
}

Result<std::unique_ptr<FileFlash>> FileFlash::Adopt(int fd, size_t block_size, size_t block_count) {
  if (block_size == 0 || block_size % kProgramUnit != 0 || block_count == 0 ||
      block_size * block_count > 0x7FFFFFFF) {
    ::close(fd);
    return StatusCode::kInvalidArgument;
  }
  std::unique_ptr<FileFlash> flash(new FileFlash(fd, block_size, block_count));
  const size_t image = block_size * block_count;
  const off_t counts_at = static_cast<off_t>(image);
  const off_t trailer_at = counts_at + static_cast<off_t>(4 * block_count);
  struct stat st;
  if (fstat(fd, &st) != 0) return StatusCode::kUnavailable;
  uint8_t trailer[kTrailerSize];
  std::memcpy(trailer, kTrailerMagic, sizeof(kTrailerMagic));
  PutLe32(trailer + 16, static_cast<uint32_t>(block_size));
  PutLe32(trailer + 20, static_cast<uint32_t>(block_count));
  if (st.st_size == 0) {
    // A new, erased image; the trailer goes last so a half-created file is
    // refused rather than taken for a valid one.
    std::vector<uint8_t> erased(block_size, 0xFF);
    for (size_t b = 0; b < block_count; ++b) {
      if (!FullPwrite(fd, erased.data(), block_size, static_cast<off_t>(b * block_size))) return StatusCode::kUnavailable;
    }
    std::vector<uint8_t> zeros(4 * block_count, 0);
    if (!FullPwrite(fd, zeros.data(), zeros.size(), counts_at)) return StatusCode::kUnavailable;
    if (fdatasync(fd) != 0) return StatusCode::kUnavailable;
    if (!FullPwrite(fd, trailer, sizeof(trailer), trailer_at) || fdatasync(fd) != 0) return StatusCode::kUnavailable;
    return flash;
  }
  uint8_t found[kTrailerSize];
  if (st.st_size != trailer_at + static_cast<off_t>(kTrailerSize) || !FullPread(fd, found, sizeof(found), trailer_at) ||
      std::memcmp(found, trailer, sizeof(found)) != 0) {
    return StatusCode::kInvalidArgument;
  }
  std::vector<uint8_t> counts(4 * block_count);
  if (!FullPread(fd, counts.data(), counts.size(), counts_at)) return StatusCode::kDataLoss;
  for (size_t b = 0; b < block_count; ++b) flash->erase_counts_[b] = GetLe32(counts.data() + 4 * b);
  return flash;
}

FileFlash::FileFlash(int fd, size_t block_size, size_t block_count)
    : fd_(fd), block_size_(block_size), block_count_(block_count), erase_counts_(block_count, 0) {}

FileFlash::~FileFlash() { ::close(fd_); }

Status FileFlash::Read(uint32_t address, std::span<uint8_t> out) {
  if (static_cast<uint64_t>(address) + out.size() > size_bytes()) return StatusCode::kOutOfRange;
  if (out.empty()) return Status::Ok();
  return FullPread(fd_, out.data(), out.size(), address) ? Status::Ok() : Status(StatusCode::kDataLoss);
}

Status FileFlash::Program(uint32_t address, std::span<const uint8_t> data) {
  if (address % kProgramUnit != 0 || data.size() % kProgramUnit != 0) return StatusCode::kInvalidArgument;
  if (static_cast<uint64_t>(address) + data.size() > size_bytes()) return StatusCode::kOutOfRange;
  if (data.empty()) return Status::Ok();
  std::vector<uint8_t> current(data.size());
  if (!FullPread(fd_, current.data(), current.size(), address)) return StatusCode::kDataLoss;
  // Write-once units, as on internal MCU flash: see flash.h.
  for (uint8_t b : current)
    if (b != 0xFF) return StatusCode::kFailedPrecondition;
  for (size_t i = 0; i < data.size(); ++i) current[i] &= data[i];
  if (!FullPwrite(fd_, current.data(), current.size(), address) || fdatasync(fd_) != 0) return StatusCode::kDataLoss;
  return Status::Ok();
}

Status FileFlash::Erase(uint32_t block) {
  if (block >= block_count_) return StatusCode::kOutOfRange;
  std::vector<uint8_t> erased(block_size_, 0xFF);
  uint8_t count[4];
  PutLe32(count, ++erase_counts_[block]);
  if (!FullPwrite(fd_, erased.data(), erased.size(), static_cast<off_t>(block) * static_cast<off_t>(block_size_)) ||
      !FullPwrite(fd_, count, sizeof(count), static_cast<off_t>(size_bytes() + 4 * block)) || fdatasync(fd_) != 0) {
    return StatusCode::kDataLoss;
  }
  return Status::Ok();
}

uint32_t FileFlash::EraseCount(uint32_t block) const { return block < block_count_ ? erase_counts_[block] : 0; }

}  // namespace mortise::store
