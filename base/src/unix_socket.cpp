#include "dogfish/base/unix_socket.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "dogfish/base/errors.hpp"

namespace dogfish {

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa.sun_path))
    throw Error(fmt::format("socket path {} is too long", path));
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return sa;
}

UniqueFd unix_connect(const std::string& path) {
  const sockaddr_un sa = unix_address(path);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw OsError(errno, "socket");
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0) {
    const int err = errno;
    fd.reset();
    errno = err;
  }
  return fd;
}

void set_socket_timeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{.tv_sec = timeout.count() / 1000, .tv_usec = (timeout.count() % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void send_all(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw OsError(errno, fmt::format("writing to {}", what));
    data.remove_prefix(size_t(n));
  }
}

bool LineReader::next(std::string& line) {
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return true;
    }
    char chunk[4096];
    const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw OsError(errno, fmt::format("reading {}", what_));
    if (n == 0) return false;
    buffer_.append(chunk, size_t(n));
    if (buffer_.size() > max_line_)
      throw Error(fmt::format("a line from {} is over {} bytes", what_, max_line_));
  }
}

}  // namespace dogfish
