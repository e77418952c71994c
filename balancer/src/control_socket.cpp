#include "dogfish/control_socket.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"

namespace dogfish {
namespace {

sockaddr_un address_of(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa.sun_path))
    throw Error(fmt::format("socket path {} is too long", path));
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return sa;
}

void set_timeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{.tv_sec = timeout.count() / 1000, .tv_usec = (timeout.count() % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw OsError(errno, "writing to the control socket");
    data.remove_prefix(size_t(n));
  }
}

// Reads up to the next '\n' (kept out of the result); false on EOF before one.
bool read_line(int fd, std::string& buffer, std::string& line) {
  for (;;) {
    if (auto nl = buffer.find('\n'); nl != std::string::npos) {
      line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return true;
    }
    char chunk[4096];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw OsError(errno, "reading the control socket");
    if (n == 0) return false;
    buffer.append(chunk, size_t(n));
    if (buffer.size() > (1 << 20)) throw Error("control request over 1 MiB");
  }
}

int connect_to(const std::string& path) {
  sockaddr_un sa = address_of(path);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw OsError(errno, "socket");
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) return -errno;
  return fd.release();
}

}  // namespace

ControlServer::ControlServer(std::string path) : path_(std::move(path)) {
  sockaddr_un sa = address_of(path_);
  auto dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw OsError(ec.value(), "creating " + dir.string());
  }
  if (int live = connect_to(path_); live >= 0) {
    close(live);
    throw Error(fmt::format("a daemon already answers on {}", path_));
  }
  unlink(path_.c_str());  // stale, from a daemon that died
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw OsError(errno, "socket");
  mode_t old = umask(0077);
  int err = bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  umask(old);
  if (err != 0) throw OsError(errno, "binding " + path_);
  if (listen(fd.get(), 16) != 0) throw OsError(errno, "listening on " + path_);
  fd_ = fd.release();
}

ControlServer::~ControlServer() {
  if (fd_ >= 0) close(fd_);
  unlink(path_.c_str());
}

void ControlServer::serve_one(const std::function<std::string(std::string_view)>& handler) {
  UniqueFd conn(accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC));
  if (conn.get() < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) return;
    throw OsError(errno, "accepting on " + path_);
  }
  set_timeout(conn.get(), std::chrono::seconds(1));
  std::string buffer, line;
  try {
    while (read_line(conn.get(), buffer, line)) write_all(conn.get(), handler(line) + "\n");
  } catch (const OsError&) {
    // A client that vanished or stalled: its problem, not the daemon's.
  }
}

std::string control_request(const std::string& path, const std::string& line,
                            std::chrono::milliseconds timeout) {
  int raw = connect_to(path);
  if (raw < 0)
    throw Error(fmt::format("cannot connect to {}: {} (is `dogfish run` running?)", path,
                            std::strerror(-raw)));
  UniqueFd fd(raw);
  set_timeout(fd.get(), timeout);
  write_all(fd.get(), line + "\n");
  shutdown(fd.get(), SHUT_WR);
  std::string buffer, answer;
  if (!read_line(fd.get(), buffer, answer))
    throw Error(fmt::format("the daemon on {} closed the connection without an answer", path));
  return answer;
}

}  // namespace dogfish
