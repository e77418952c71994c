#include "dogfish/lab/probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dogfish/base/fd.hpp"
#include "dogfish/base/socket_address.hpp"
#include "dogfish/lab/netns.hpp"

namespace dogfish::lab {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

std::string first_line(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

// A non-blocking socket with connect() started; the error text when that failed.
std::string open_connected(UniqueFd& s, int type, const IpAddress& vip, std::uint16_t port) {
  s.reset(socket(vip.is_v4() ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) return fmt::format("socket: {}", std::strerror(errno));
  const SocketAddress to = socket_address({vip, port});
  if (connect(s.get(), to.get(), to.length) != 0 && errno != EINPROGRESS)
    return fmt::format("connect: {}", std::strerror(errno));
  return "";
}

Answer ask_tcp(const IpAddress& vip, std::uint16_t port, Clock::time_point deadline) {
  UniqueFd s;
  if (auto error = open_connected(s, SOCK_STREAM, vip, port); !error.empty())
    return {false, "", error};
  if (!wait_for(s.get(), POLLOUT, deadline)) return {false, "", "no answer to the SYN"};
  int err = 0;
  socklen_t elen = sizeof err;
  getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0) return {false, "", fmt::format("connect: {}", std::strerror(err))};
  const std::string request = "GET / HTTP/1.0\r\nHost: dogfish-lab\r\n\r\n";
  if (send(s.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return {false, "", fmt::format("send: {}", std::strerror(errno))};
  std::string response;
  char buf[2048];
  for (;;) {
    if (!wait_for(s.get(), POLLIN, deadline)) return {false, "", "no complete HTTP answer"};
    const ssize_t n = recv(s.get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return {false, "", fmt::format("recv: {}", std::strerror(errno))};
    if (n == 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  if (!response.starts_with("HTTP/1.") || response.find(" 200 ") == std::string::npos)
    return {false, "", fmt::format("answered '{}'", first_line(response))};
  const auto body = response.find("\r\n\r\n");
  if (body == std::string::npos) return {false, "", "an HTTP answer without a body"};
  return {true, first_line(std::string_view(response).substr(body + 4)), ""};
}

Answer ask_udp(const IpAddress& vip, std::uint16_t port, Clock::time_point deadline) {
  UniqueFd s;
  if (auto error = open_connected(s, SOCK_DGRAM, vip, port); !error.empty())
    return {false, "", error};
  const std::string request = "dogfish-lab\n";
  if (send(s.get(), request.data(), request.size(), 0) < 0)
    return {false, "", fmt::format("send: {}", std::strerror(errno))};
  char buf[2048];
  if (!wait_for(s.get(), POLLIN, deadline)) return {false, "", "no datagram back"};
  const ssize_t n = recv(s.get(), buf, sizeof buf, 0);
  if (n <= 0)
    return {false, "", fmt::format("recv: {}", n < 0 ? std::strerror(errno) : "empty datagram")};
  return {true, first_line(std::string_view(buf, static_cast<std::size_t>(n))), ""};
}

}  // namespace

Answer ask(const std::string& netns, const IpAddress& vip, std::uint16_t port, Proto proto,
           std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  return in_netns(netns, [&] {
    return proto == Proto::tcp ? ask_tcp(vip, port, deadline) : ask_udp(vip, port, deadline);
  });
}

}  // namespace dogfish::lab
