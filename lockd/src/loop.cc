#include "loop.h"

#include <vector>

namespace mortise::lockd {

void Loop::Add(int fd, short events, Callback cb) { entries_[fd] = Entry{events, ++generation_, std::move(cb)}; }

void Loop::SetEvents(int fd, short events) {
  auto it = entries_.find(fd);
  if (it != entries_.end()) it->second.events = events;
}

void Loop::Remove(int fd) { entries_.erase(fd); }

int Loop::RunOnce(int timeout_ms) {
  std::vector<pollfd> fds;
  std::vector<uint64_t> generations;
  fds.reserve(entries_.size());
  for (const auto& [fd, e] : entries_) {
    fds.push_back(pollfd{fd, e.events, 0});
    generations.push_back(e.generation);
  }
  const Watched w = watch_ ? watch_() : Watched{-1, 0};
  if (w.fd >= 0) fds.push_back(pollfd{w.fd, w.events, 0});
  const int n = poll(fds.data(), fds.size(), timeout_ms);
  if (n <= 0) return n;
  if (w.fd >= 0) {
    const short revents = fds.back().revents;
    fds.pop_back();
    if (revents != 0) watch_cb_(revents);
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    auto it = entries_.find(fds[i].fd);
    // Removed, or closed and the number reused, by an earlier callback.
    if (it == entries_.end() || it->second.generation != generations[i]) continue;
    Callback cb = it->second.cb;  // the callback may remove its own entry
    cb(fds[i].revents);
  }
  return n;
}

}  // namespace mortise::lockd
