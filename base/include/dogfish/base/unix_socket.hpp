// Unix stream sockets carrying lines: dogfish's control socket and BIRD's speak this way.
#pragma once

#include <sys/un.h>

#include <chrono>
#include <string>
#include <string_view>

#include "dogfish/base/fd.hpp"

namespace dogfish {

// The address of a socket file; throws Error when the path does not fit.
sockaddr_un unix_address(const std::string& path);

// A stream socket connected to `path`; an invalid one (errno kept) when nothing accepts there.
UniqueFd unix_connect(const std::string& path);

// Receive and send timeouts: a silent peer ends a read with EAGAIN instead of hanging.
void set_socket_timeout(int fd, std::chrono::milliseconds timeout);

// Sends all of `data`; throws OsError naming `what`.
void send_all(int fd, std::string_view data, std::string_view what);

// Reads lines from a socket, keeping what came after the last one.
class LineReader {
 public:
  LineReader(int fd, std::string what, std::size_t max_line = std::size_t{1} << 20)
      : fd_(fd), what_(std::move(what)), max_line_(max_line) {}

  // The next line without its '\n'; false at EOF before one. Throws OsError (a timeout too) or
  // Error when a line is over the limit.
  bool next(std::string& line);

 private:
  int fd_;
  std::string what_;
  std::size_t max_line_;
  std::string buffer_;
};

}  // namespace dogfish
