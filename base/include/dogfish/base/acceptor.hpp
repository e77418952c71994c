// The accepting half of a listening socket on an event loop, for every server of the daemon
// (the control socket, the metrics endpoint): each new connection is handed on, non-blocking
// and close-on-exec. An accept that fails for want of descriptors or memory, or for any
// reason but a vanished peer, would wake the level-triggered loop again at once and spin it:
// the acceptor stops watching the socket for a pause and takes up again after it, saying so
// once until an accept succeeds again. A server never ends over an accept; the connections
// queued meanwhile wait in the backlog.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "dogfish/base/event_loop.hpp"
#include "dogfish/base/fd.hpp"

namespace dogfish {

class Acceptor {
 public:
  using OnConnection = std::function<void(UniqueFd)>;
  static constexpr std::chrono::milliseconds kPause{100};

  // Watches `listen_fd` (not owned; it outlives the acceptor) until destroyed. `what` names
  // the socket in the log ("the control socket /run/dogfish.sock").
  Acceptor(EventLoop& loop, int listen_fd, std::string what, OnConnection on_connection,
           EventLoop::Clock::duration pause = kPause);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  bool paused() const noexcept { return resume_ != 0; }

 private:
  void watch();
  void accept_all();
  void pause(int error);

  EventLoop& loop_;
  int fd_;
  std::string what_;
  OnConnection on_connection_;
  EventLoop::Clock::duration pause_;
  EventLoop::TimerId resume_ = 0;
  bool failing_ = false;  // since the last accept that worked
};

}  // namespace dogfish
