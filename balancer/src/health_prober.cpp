#include "dogfish/health_prober.hpp"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/socket_address.hpp"

namespace dogfish {
namespace {

ProbeResult failed(std::uint64_t id, int error) { return {id, false, std::strerror(error)}; }

// "HTTP/1.1 200 OK" -> 200; nothing for anything else.
std::optional<std::uint32_t> http_status(std::string_view line) {
  if (!line.starts_with("HTTP/")) return std::nullopt;
  auto space = line.find(' ');
  if (space == std::string_view::npos || line.size() < space + 4) return std::nullopt;
  std::uint32_t status = 0;
  auto [end, ec] = std::from_chars(line.data() + space + 1, line.data() + space + 4, status);
  if (ec != std::errc() || end != line.data() + space + 4) return std::nullopt;
  return status;
}

std::string http_request(const ProbeSpec& spec) {
  return fmt::format(
      "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: dogfish-health\r\nConnection: close\r\n\r\n",
      spec.path,
      spec.target.address.is_v6() ? "[" + spec.target.address.to_string() + "]"
                                  : spec.target.address.to_string());
}

}  // namespace

SocketProber::SocketProber(std::string device)
    : device_(std::move(device)), epoll_(epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_) throw OsError(errno, "epoll_create1 for health probes");
}

bool SocketProber::mark(int socket, std::uint32_t mark) const {
  if (setsockopt(socket, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) return false;
  return device_.empty() || setsockopt(socket, SOL_SOCKET, SO_BINDTODEVICE, device_.data(),
                                       static_cast<socklen_t>(device_.size())) == 0;
}

void SocketProber::start(std::uint64_t id, const ProbeSpec& spec, HealthClock::time_point now) {
  const SocketAddress to = socket_address(spec.target);
  const bool udp = spec.type == HealthType::udp;
  Probe probe{.spec = spec, .deadline = now + spec.timeout};
  probe.socket.reset(
      socket(to.family(), (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe.socket) {
    done_.push_back(failed(id, errno));
    return;
  }
  if (spec.mark != 0 && !mark(probe.socket.get(), spec.mark)) {
    done_.push_back(failed(id, errno));
    return;
  }
  if (!udp) {
    // A reset on close: thousands of probes a second leave no TIME_WAIT behind.
    linger reset{.l_onoff = 1, .l_linger = 0};
    setsockopt(probe.socket.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  if (connect(probe.socket.get(), to.get(), to.length) != 0 && errno != EINPROGRESS) {
    done_.push_back(failed(id, errno));
    return;
  }
  std::uint32_t events = EPOLLOUT;
  if (udp) {
    if (send(probe.socket.get(), spec.payload.data(), spec.payload.size(), 0) < 0) {
      done_.push_back(failed(id, errno));
      return;
    }
    probe.sent = true;
    events = EPOLLIN;
  }
  epoll_event ev{.events = events, .data = {.u64 = id}};
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, probe.socket.get(), &ev) != 0) {
    done_.push_back(failed(id, errno));
    return;
  }
  probes_.insert_or_assign(id, std::move(probe));
}

std::optional<ProbeResult> SocketProber::on_writable(std::uint64_t id, Probe& probe) {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(probe.socket.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) return failed(id, error);
  if (probe.spec.type == HealthType::tcp) return ProbeResult{id, true, "connected"};
  const std::string request = http_request(probe.spec);
  if (send(probe.socket.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return failed(id, errno);
  probe.sent = true;
  epoll_event ev{.events = EPOLLIN, .data = {.u64 = id}};
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, probe.socket.get(), &ev) != 0)
    return failed(id, errno);
  return std::nullopt;
}

std::optional<ProbeResult> SocketProber::on_readable(std::uint64_t id, Probe& probe) {
  char buf[1024];
  const ssize_t n = recv(probe.socket.get(), buf, sizeof buf, 0);
  if (n < 0) return errno == EAGAIN ? std::nullopt : std::optional(failed(id, errno));
  if (probe.spec.type == HealthType::udp) {
    if (std::string_view(buf, n).starts_with(probe.spec.expect)) return ProbeResult{id, true, "ok"};
    return ProbeResult{id, false, "unexpected reply"};
  }
  probe.received.append(buf, n);
  const auto eol = probe.received.find("\r\n");
  if (eol == std::string::npos && n > 0 && probe.received.size() < 4096) return std::nullopt;
  auto status = http_status(std::string_view(probe.received).substr(0, eol));
  if (!status) return ProbeResult{id, false, n == 0 ? "closed without an answer" : "not HTTP"};
  return ProbeResult{id, *status == probe.spec.status, fmt::format("status {}", *status)};
}

std::optional<ProbeResult> SocketProber::step(std::uint64_t id, Probe& probe,
                                              std::uint32_t events) {
  if (!probe.sent && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return on_writable(id, probe);
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) return on_readable(id, probe);
  return std::nullopt;
}

std::vector<ProbeResult> SocketProber::collect(HealthClock::time_point now) {
  std::vector<ProbeResult> results = std::move(done_);
  done_.clear();
  epoll_event events[64];
  for (;;) {
    const int n = epoll_wait(epoll_.get(), events, 64, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw OsError(errno, "epoll_wait for health probes");
    for (int i = 0; i < n; ++i) {
      // A copy: epoll_event is packed, and find() would bind a reference to a misaligned
      // u64 (UBSan's finding).
      const std::uint64_t id = events[i].data.u64;
      auto it = probes_.find(id);
      if (it == probes_.end()) continue;
      if (auto result = step(it->first, it->second, events[i].events)) {
        results.push_back(std::move(*result));
        probes_.erase(it);
      }
    }
    if (n < 64) break;
  }
  for (auto it = probes_.begin(); it != probes_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    results.push_back(
        {it->first, false, fmt::format("timed out after {} ms", it->second.spec.timeout.count())});
    it = probes_.erase(it);
  }
  return results;
}

std::optional<HealthClock::time_point> SocketProber::next_deadline() const {
  std::optional<HealthClock::time_point> earliest;
  if (!done_.empty()) return HealthClock::time_point{};  // news already: no waiting
  for (const auto& [id, probe] : probes_)
    if (!earliest || probe.deadline < *earliest) earliest = probe.deadline;
  return earliest;
}

}  // namespace dogfish
