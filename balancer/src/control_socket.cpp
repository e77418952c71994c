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
#include "dogfish/base/unix_socket.hpp"

namespace dogfish {

ControlServer::ControlServer(std::string path) : path_(std::move(path)) {
  sockaddr_un sa = unix_address(path_);
  auto dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw OsError(ec.value(), "creating " + dir.string());
  }
  if (unix_connect(path_)) throw Error(fmt::format("a daemon already answers on {}", path_));
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
  set_socket_timeout(conn.get(), std::chrono::seconds(1));
  LineReader lines(conn.get(), "the control socket");
  std::string line;
  try {
    while (lines.next(line)) send_all(conn.get(), handler(line) + "\n", "the control socket");
  } catch (const OsError&) {
    // A client that vanished or stalled: its problem, not the daemon's.
  }
}

std::string control_request(const std::string& path, const std::string& line,
                            std::chrono::milliseconds timeout) {
  UniqueFd fd = unix_connect(path);
  if (!fd)
    throw Error(fmt::format("cannot connect to {}: {} (is `dogfish run` running?)", path,
                            std::strerror(errno)));
  set_socket_timeout(fd.get(), timeout);
  send_all(fd.get(), line + "\n", "the control socket");
  shutdown(fd.get(), SHUT_WR);
  LineReader lines(fd.get(), "the control socket");
  std::string answer;
  if (!lines.next(answer))
    throw Error(fmt::format("the daemon on {} closed the connection without an answer", path));
  return answer;
}

}  // namespace dogfish
