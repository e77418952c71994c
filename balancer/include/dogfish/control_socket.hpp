// The control socket: a unix stream socket carrying one JSON request per line
// and one JSON response per line. The server side is polled by the daemon's
// single loop; the client side is what the `dogfish` commands use.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace dogfish {

inline constexpr const char* kDefaultSocket = "/run/dogfish/dogfish.sock";

class ControlServer {
 public:
  // Makes the directory, refuses when a live daemon answers on `path`, removes
  // a stale socket, binds (mode 0600) and listens. Throws OsError / Error.
  explicit ControlServer(std::string path);
  ~ControlServer();  // closes and removes the socket
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Accepts one connection and answers each line with handler(line) until the
  // client closes (or is silent for a second).
  void serve_one(const std::function<std::string(std::string_view)>& handler);

 private:
  std::string path_;
  int fd_ = -1;
};

// Sends one line, returns the one-line answer. Throws Error naming the socket
// ("cannot connect to PATH: ... (is `dogfish run` running?)").
std::string control_request(const std::string& path, const std::string& line,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace dogfish
