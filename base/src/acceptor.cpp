#include "dogfish/base/acceptor.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "dogfish/base/log.hpp"

namespace dogfish {

Acceptor::Acceptor(EventLoop& loop, int listen_fd, std::string what, OnConnection on_connection,
                   EventLoop::Clock::duration pause)
    : loop_(loop),
      fd_(listen_fd),
      what_(std::move(what)),
      on_connection_(std::move(on_connection)),
      pause_(pause) {
  watch();
}

Acceptor::~Acceptor() {
  loop_.cancel(resume_);
  loop_.unwatch(fd_);
}

void Acceptor::watch() {
  loop_.watch(fd_, EPOLLIN, [this](std::uint32_t) { accept_all(); });
}

void Acceptor::accept_all() {
  for (;;) {
    UniqueFd conn(accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (conn) {
      failing_ = false;
      on_connection_(std::move(conn));
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;  // the next one may be whole
    if (errno != EAGAIN) pause(errno);
    return;
  }
}

void Acceptor::pause(int error) {
  loop_.unwatch(fd_);
  if (!std::exchange(failing_, true)) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(pause_).count();
    log_warn("accepting on {}: {}; trying again every {} ms", what_, std::strerror(error), ms);
  }
  resume_ = loop_.after(pause_, [this] {
    resume_ = 0;
    watch();
  });
}

}  // namespace dogfish
