// A small HTTP/1.x responder in the daemon's event loop, for GET /metrics: one request per
// connection (read the head, answer, close), no threads. A client costs a slot, for a bounded
// time, for a bounded request: a slow or bad one delays nobody else.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dogfish/base/acceptor.hpp"
#include "dogfish/base/address.hpp"
#include "dogfish/base/event_loop.hpp"
#include "dogfish/base/fd.hpp"

namespace dogfish {

struct HttpLimits {
  std::size_t max_request_bytes = 8192;  // the request line and headers
  // From the connection to the end of the request's head, and again for the answer to be read.
  std::chrono::milliseconds deadline{5000};
  std::size_t max_connections = 16;  // one more is closed at once
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  // Answers GET (and HEAD) of a path. What it throws becomes a 500 to that client.
  using Handler = std::function<HttpResponse(std::string_view path)>;

  // Binds and listens on `listen` (SO_REUSEADDR). Throws OsError naming the address.
  HttpServer(const Endpoint& listen, EventLoop& loop, HttpLimits limits = {});
  ~HttpServer();  // closes every connection
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Accepts connections in the loop from now on.
  void start(Handler handler);

  // The port bound: the kernel's choice when `listen` had port 0 (tests).
  std::uint16_t port() const { return port_; }
  std::size_t connections() const { return connections_.size(); }

 private:
  struct Connection;

  void on_accept(UniqueFd conn);
  void on_ready(int fd, std::uint32_t events);
  void read_request(Connection& c);
  void respond(Connection& c, const HttpResponse& response, bool head);
  void flush(Connection& c);
  void close(int fd);

  EventLoop& loop_;
  Handler handler_;
  HttpLimits limits_;
  UniqueFd fd_;
  std::uint16_t port_ = 0;
  std::map<int, std::unique_ptr<Connection>> connections_;
  std::optional<Acceptor> acceptor_;  // from start() on
};

// "HTTP/1.1 404 Not Found" and such: the reason phrase of the statuses this server sends.
std::string_view http_reason(int status);

}  // namespace dogfish
