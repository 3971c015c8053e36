// A small poll(2) loop: file descriptors with callbacks. Single-threaded;
// callbacks may add and remove descriptors (their own included).
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <map>

namespace mortise::lockd {

class Loop {
 public:
  using Callback = std::function<void(short revents)>;

  void Add(int fd, short events, Callback cb);
  void SetEvents(int fd, short events);
  void Remove(int fd);
  // Polls once for at most `timeout_ms` and runs the callbacks of ready
  // descriptors. Returns poll's result (-1 with errno EINTR is not an error
  // for the caller).
  int RunOnce(int timeout_ms);
  // A descriptor owned by a library that opens and closes it on its own
  // (the uplink's MQTT socket): asked for afresh before every poll, so a
  // closed and reused number is never confused with another entry's.
  // `fd` returns -1 when there is nothing to watch.
  struct Watched {
    int fd;
    short events;
  };
  void set_watch(std::function<Watched()> watch, Callback cb) {
    watch_ = std::move(watch);
    watch_cb_ = std::move(cb);
  }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    short events;
    uint64_t generation;
    Callback cb;
  };
  std::map<int, Entry> entries_;
  std::function<Watched()> watch_;
  Callback watch_cb_;
  uint64_t generation_ = 0;
};

}  // namespace mortise::lockd
