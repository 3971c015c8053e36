// The uplink's topic tree (docs/uplink.md "Topics"). Every lock lives under
// its own broker username (its certificate's CN, the lock id in hex), and
// the broker's ACL (broker.h, AclText) lets a lock use nothing else.
#pragma once

#include <string>
#include <string_view>

namespace mortise::uplink {

inline constexpr char kTopicRoot[] = "mortise/v1/locks/";

enum class Channel {
  kState,   // lock -> all: its state, retained (JSON)
  kLog,     // lock -> server: log pages (JSON with the records and signed heads)
  kDown,    // server -> lock: protocol frames (binary), correlation data set
  kUp,      // lock -> server: the answers (binary), same correlation data
  kOnline,  // lock -> all: "online"/"offline" (retained; the broker sends
            // "offline" as the lock's last will)
};

inline const char* ChannelName(Channel c) {
  switch (c) {
    case Channel::kState: return "state";
    case Channel::kLog: return "log";
    case Channel::kDown: return "down";
    case Channel::kUp: return "up";
    case Channel::kOnline: return "online";
  }
  return "";
}

inline std::string LockTopic(std::string_view username, Channel c) {
  return std::string(kTopicRoot) + std::string(username) + "/" + ChannelName(c);
}

}  // namespace mortise::uplink
