#include "dogfish/http_server.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/base/printable.hpp"
#include "dogfish/base/socket_address.hpp"

namespace dogfish {

// One client: its request's head so far, then the answer it has not read yet.
struct HttpServer::Connection {
  UniqueFd fd;
  std::string in, out;
  EventLoop::TimerId deadline = 0;
  bool answered = false;  // nothing more is read; close once `out` is written
};

namespace {

// The end of a request's head (the blank line), either line ending; npos before it came.
std::size_t head_end(const std::string& in) {
  const auto crlf = in.find("\r\n\r\n");
  const auto lf = in.find("\n\n");
  return std::min(crlf, lf);
}

HttpResponse plain(int status, std::string body) {
  return {.status = status, .body = std::move(body) + "\n"};
}

}  // namespace

std::string_view http_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

HttpServer::HttpServer(const Endpoint& listen, EventLoop& loop, HttpLimits limits)
    : loop_(loop), limits_(limits) {
  const SocketAddress sa = socket_address(listen);
  const std::string where = listen.to_string();
  fd_ = UniqueFd(socket(sa.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) throw OsError(errno, "socket for " + where);
  int one = 1;
  setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd_.get(), sa.get(), sa.length) != 0) throw OsError(errno, "binding " + where);
  if (::listen(fd_.get(), 64) != 0) throw OsError(errno, "listening on " + where);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(bound).sin_port
                                           : reinterpret_cast<sockaddr_in6&>(bound).sin6_port);
}

HttpServer::~HttpServer() {
  while (!connections_.empty()) close(connections_.begin()->first);
}

void HttpServer::start(Handler handler) {
  handler_ = std::move(handler);
  acceptor_.emplace(loop_, fd_.get(), "the metrics endpoint",
                    [this](UniqueFd conn) { on_accept(std::move(conn)); });
}

void HttpServer::on_accept(UniqueFd conn) {
  if (connections_.size() >= limits_.max_connections) {
    log_warn("metrics endpoint: refused a connection, {} open (the cap)", connections_.size());
    return;  // closed: a scraper retries at its next interval
  }
  const int fd = conn.get();
  auto c = std::make_unique<Connection>();
  c->fd = std::move(conn);
  c->deadline = loop_.after(limits_.deadline, [this, fd] {
    Connection& c = *connections_.at(fd);
    c.deadline = 0;
    if (c.answered) return close(fd);  // it did not read its answer either
    respond(c, plain(408, "request not complete in time"), false);
  });
  loop_.watch(fd, EPOLLIN, [this, fd](std::uint32_t events) { on_ready(fd, events); });
  connections_[fd] = std::move(c);
}

void HttpServer::on_ready(int fd, std::uint32_t events) {
  Connection& c = *connections_.at(fd);
  if ((events & EPOLLIN) && !c.answered) read_request(c);
  if (!connections_.contains(fd)) return;
  if (events & EPOLLOUT) flush(c);
  if (!connections_.contains(fd)) return;
  if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) close(fd);
}

void HttpServer::read_request(Connection& c) {
  const int fd = c.fd.get();
  char chunk[4096];
  for (;;) {
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) return close(fd);  // gone before its request was whole: nobody to answer
    c.in.append(chunk, std::size_t(n));
    const std::size_t end = head_end(c.in);
    if (end == std::string::npos ? c.in.size() > limits_.max_request_bytes
                                 : end > limits_.max_request_bytes)
      return respond(c, plain(431, fmt::format("request over {} bytes", limits_.max_request_bytes)),
                     false);
    if (end != std::string::npos) break;
  }
  // "METHOD TARGET HTTP/1.x": headers are not needed to answer.
  const std::string line = c.in.substr(0, c.in.find_first_of("\r\n"));
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || line.find(' ', sp2 + 1) != std::string::npos)
    return respond(c, plain(400, "not an HTTP request line"), false);
  const std::string method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string version = line.substr(sp2 + 1);
  if (version.rfind("HTTP/", 0) != 0)
    return respond(c, plain(400, "not an HTTP request line"), false);
  if (version != "HTTP/1.0" && version != "HTTP/1.1")
    return respond(c, plain(505, "HTTP/1.0 and HTTP/1.1 only"), false);
  const bool head = method == "HEAD";
  if (method != "GET" && !head) return respond(c, plain(405, "GET only"), false);
  target = target.substr(0, target.find('?'));  // a query changes nothing here
  HttpResponse response;
  try {
    response = handler_(target);
  } catch (const std::exception& e) {
    log_warn("metrics endpoint: {}", printable(e.what()));
    response = plain(500, e.what());
  }
  respond(c, response, head);
}

void HttpServer::respond(Connection& c, const HttpResponse& r, bool head) {
  if (r.status >= 400 && r.status != 404)
    log_debug("metrics endpoint: {} {}", r.status, printable(r.body));
  c.out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
      r.status, http_reason(r.status), r.content_type, r.body.size());
  if (!head) c.out += r.body;
  c.in.clear();
  c.answered = true;
  loop_.cancel(c.deadline);
  const int fd = c.fd.get();
  c.deadline = loop_.after(limits_.deadline, [this, fd] { close(fd); });
  flush(c);
}

void HttpServer::flush(Connection& c) {
  const int fd = c.fd.get();
  while (!c.out.empty()) {
    const ssize_t n = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) return close(fd);
    c.out.erase(0, std::size_t(n));
  }
  if (c.out.empty()) return close(fd);
  loop_.modify(fd, EPOLLOUT);
}

void HttpServer::close(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  loop_.cancel(it->second->deadline);
  loop_.unwatch(fd);
  connections_.erase(it);
}

}  // namespace dogfish
