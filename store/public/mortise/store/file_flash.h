// A flash image in a file, for the Linux lock daemon (mortise_store_posix,
// not portable). NOR semantics as FakeFlash: programs only clear bits and
// each unit is programmed once between erases. Every Program and Erase is
// followed by fdatasync before it returns, so a process killed with SIGKILL,
// or a machine that loses power, keeps every write that returned OK.
//
// File layout: the image (block_count * block_size bytes), then one
// little-endian uint32 erase count per block, then a 16-byte trailer
// "MORTISE-FLASH v1" + block size + block count (two LE uint32), so a file
// made for another geometry is refused rather than misread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mortise/store/flash.h"

namespace mortise::store {

class FileFlash final : public Flash {
 public:
  // Opens `path`, creating an erased image if it does not exist.
  // kInvalidArgument: bad geometry, or the file holds another geometry or is
  // not a Mortise image. kUnavailable: the file cannot be opened or created.
  static Result<std::unique_ptr<FileFlash>> Open(const std::string& path, size_t block_size, size_t block_count);
  // The same on a file the caller opened (read-write), for a caller that
  // must choose how it is opened (mortise-lockd: openat with O_NOFOLLOW in
  // a checked directory). Takes ownership of `fd` on every outcome (closed
  // on failure). An empty file is made an erased image, as Open does.
  static Result<std::unique_ptr<FileFlash>> Adopt(int fd, size_t block_size, size_t block_count);
  ~FileFlash() override;
  FileFlash(const FileFlash&) = delete;
  FileFlash& operator=(const FileFlash&) = delete;

  size_t block_size() const override { return block_size_; }
  size_t block_count() const override { return block_count_; }
  // kDataLoss: the OS reported an I/O error.
  Status Read(uint32_t address, std::span<uint8_t> out) override;
  Status Program(uint32_t address, std::span<const uint8_t> data) override;
  Status Erase(uint32_t block) override;
  uint32_t EraseCount(uint32_t block) const override;

 private:
  FileFlash(int fd, size_t block_size, size_t block_count);

  int fd_;
  size_t block_size_;
  size_t block_count_;
  std::vector<uint32_t> erase_counts_;
};

}  // namespace mortise::store
