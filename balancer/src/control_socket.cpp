#include "dogfish/control_socket.hpp"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/base/printable.hpp"
#include "dogfish/base/unix_socket.hpp"

namespace dogfish {
namespace {

// Removes what is at `path` only when it is a socket nothing listens on (a daemon that died
// left it); anything else there is somebody's, and a refusal.
void remove_stale_socket(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw OsError(errno, "looking at " + path);
  }
  if (!S_ISSOCK(st.st_mode))
    throw Error(fmt::format(
        "{} exists and is not a socket: refusing to replace it (remove it, or give another "
        "--socket)",
        path));
  if (unix_connect(path))
    throw Error(
        fmt::format("something already answers on {} (another `dogfish run`?): "
                    "refusing to replace it",
                    path));
  const int err = errno;
  if (err == EAGAIN)  // a listener with a full backlog is alive too
    throw Error(fmt::format("something already answers on {} (its backlog is full)", path));
  if (err != ECONNREFUSED) throw OsError(err, "probing " + path);
  if (unlink(path.c_str()) != 0) throw OsError(errno, "removing the stale socket " + path);
}

}  // namespace

// One client: what it sent not yet answered, and what it has not read yet.
struct ControlServer::Connection {
  UniqueFd fd;
  std::string in, out;
  EventLoop::TimerId deadline = 0;
  bool closing = false;  // no more requests: close once `out` is written
};

ControlServer::ControlServer(std::string path, EventLoop& loop, ControlLimits limits)
    : path_(std::move(path)), loop_(loop), limits_(limits) {
  sockaddr_un sa = unix_address(path_);
  auto dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw OsError(ec.value(), "creating " + dir.string());
  }
  remove_stale_socket(path_);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw OsError(errno, "socket");
  mode_t old = umask(0077);
  int err = bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  umask(old);
  if (err != 0) throw OsError(errno, "binding " + path_);
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) throw OsError(errno, "stat " + path_);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  if (listen(fd.get(), 64) != 0) throw OsError(errno, "listening on " + path_);
  fd_ = fd.release();
}

void ControlServer::start(Handler handler) {
  handler_ = std::move(handler);
  acceptor_.emplace(loop_, fd_, "the control socket " + path_,
                    [this](UniqueFd conn) { on_accept(std::move(conn)); });
}

ControlServer::~ControlServer() {
  while (!connections_.empty()) close(connections_.begin()->first);
  acceptor_.reset();
  ::close(fd_);
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    unlink(path_.c_str());
}

void ControlServer::on_accept(UniqueFd conn) {
  if (connections_.size() >= limits_.max_connections) {
    // Best effort: a full socket buffer on a brand-new connection is not worth waiting for.
    std::string line = error_answer(
        fmt::format("too many connections ({}): try again later", limits_.max_connections));
    line += '\n';
    [[maybe_unused]] ssize_t n = send(conn.get(), line.data(), line.size(), MSG_NOSIGNAL);
    log_warn("control socket: refused a connection, {} open (the cap)", connections_.size());
    return;
  }
  int fd = conn.get();
  auto c = std::make_unique<Connection>();
  c->fd = std::move(conn);
  loop_.watch(fd, EPOLLIN, [this, fd](std::uint32_t events) { on_ready(fd, events); });
  Connection& ref = *c;
  connections_[fd] = std::move(c);
  start_deadline(ref);
}

void ControlServer::start_deadline(Connection& c) {
  loop_.cancel(c.deadline);
  int fd = c.fd.get();
  c.deadline = loop_.after(limits_.request_deadline, [this, fd] {
    Connection& c = *connections_.at(fd);
    c.deadline = 0;
    if (c.closing) return close(fd);  // it did not read its answer either
    refuse(c, fmt::format("request not complete within {} ms (the deadline)",
                          limits_.request_deadline.count()));
  });
}

void ControlServer::on_ready(int fd, std::uint32_t events) {
  Connection& c = *connections_.at(fd);
  if (events & EPOLLIN) read_requests(c);
  if (!connections_.contains(fd)) return;
  if (events & EPOLLOUT) flush(c);
  if (!connections_.contains(fd)) return;
  if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) close(fd);
}

void ControlServer::read_requests(Connection& c) {
  int fd = c.fd.get();
  char chunk[16384];
  bool eof = false;
  // One chunk's answers at a time: a client that sends and never reads stops being read.
  while (!c.closing && c.out.empty()) {
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      eof = true;  // or an error: either way nothing more comes
      break;
    }
    c.in.append(chunk, std::size_t(n));
    // Lines are answered as they complete, so a long run of them costs no memory.
    for (std::size_t nl; !c.closing && (nl = c.in.find('\n')) != std::string::npos;) {
      if (nl > limits_.max_request_bytes) break;
      std::string line = c.in.substr(0, nl);
      c.in.erase(0, nl + 1);
      answer(c, line);
      if (!connections_.contains(fd)) return;
    }
    if (!c.closing && c.in.find('\n') > limits_.max_request_bytes &&
        c.in.size() > limits_.max_request_bytes) {
      refuse(c, fmt::format("request over {} bytes", limits_.max_request_bytes));
      if (!connections_.contains(fd)) return;
    }
  }
  if (eof && !c.closing) c.closing = true;  // a half-sent line at the end gets no answer
  if (connections_.contains(fd)) flush(c);
}

void ControlServer::answer(Connection& c, std::string_view line) {
  try {
    c.out += handler_(line);
    c.out += '\n';
    start_deadline(c);  // the next request's
  } catch (const std::exception& e) {
    refuse(c, e.what());
  }
}

void ControlServer::refuse(Connection& c, const std::string& reason) {
  log_warn("control socket: {}", printable(reason));
  c.out += error_answer(reason);
  c.out += '\n';
  c.in.clear();
  c.closing = true;
  start_deadline(c);  // for the answer to be read
  flush(c);
}

void ControlServer::flush(Connection& c) {
  int fd = c.fd.get();
  while (!c.out.empty()) {
    ssize_t n = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) return close(fd);  // gone: nobody to answer
    c.out.erase(0, std::size_t(n));
  }
  if (c.out.empty() && c.closing) return close(fd);
  // Nothing more is read while an answer waits: a client that does not read stops itself.
  loop_.modify(fd, c.out.empty() ? EPOLLIN : EPOLLOUT);
}

void ControlServer::close(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  loop_.cancel(it->second->deadline);
  loop_.unwatch(fd);
  connections_.erase(it);
}

std::string error_answer(std::string_view reason) {
  // Invalid UTF-8 (a client's bytes in an error) is replaced, not a reason to throw.
  return nlohmann::json{{"error", reason}}.dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace);
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
