// The control socket: a unix stream socket carrying one JSON request per line
// and one JSON response per line. The server side lives in the daemon's event
// loop and serves its clients concurrently; the client side is what the
// `dogfish` commands use.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dogfish/base/acceptor.hpp"
#include "dogfish/base/event_loop.hpp"

namespace dogfish {

inline constexpr const char* kDefaultSocket = "/run/dogfish/dogfish.sock";

// What one client may cost the daemon: a slot, for a bounded time, for a bounded request.
struct ControlLimits {
  std::size_t max_request_bytes = 64 * 1024;  // one line, its newline excluded
  // From the connection (or the previous answer) to the newline ending the request, and
  // again for an answer the client does not read.
  std::chrono::milliseconds request_deadline{5000};
  std::size_t max_connections = 32;  // one more is answered with an error and closed
};

class ControlServer {
 public:
  // Answers one request line. Whatever it throws goes back as {"error": what} and ends
  // that client's connection, nobody else's.
  using Handler = std::function<std::string(std::string_view line)>;

  // Makes the directory; refuses a path that is something else than a socket, or a socket
  // something answers on; removes a stale socket (nothing listening); binds (mode 0600) and
  // listens. Throws OsError / Error.
  ControlServer(std::string path, EventLoop& loop, ControlLimits limits = {});
  ~ControlServer();  // closes every connection; removes the socket if it is still ours
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Accepts connections in the loop from now on, answering each request with `handler`.
  void start(Handler handler);

  const std::string& path() const { return path_; }
  std::size_t connections() const { return connections_.size(); }

 private:
  struct Connection;

  void on_accept(UniqueFd conn);
  void on_ready(int fd, std::uint32_t events);
  void read_requests(Connection& c);
  void answer(Connection& c, std::string_view line);
  // Answers {"error": reason}, logs it, and closes once the answer is written.
  void refuse(Connection& c, const std::string& reason);
  void flush(Connection& c);
  void start_deadline(Connection& c);
  void close(int fd);

  std::string path_;
  EventLoop& loop_;
  Handler handler_;
  ControlLimits limits_;
  int fd_ = -1;
  dev_t dev_ = 0;  // the socket file made, so that only it is removed
  ino_t ino_ = 0;
  std::map<int, std::unique_ptr<Connection>> connections_;
  std::optional<Acceptor> acceptor_;  // from start() on
};

// An answer {"error": reason}, one line without its newline.
std::string error_answer(std::string_view reason);

// Sends one line, returns the one-line answer. Throws Error naming the socket
// ("cannot connect to PATH: ... (is `dogfish run` running?)").
std::string control_request(const std::string& path, const std::string& line,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace dogfish
