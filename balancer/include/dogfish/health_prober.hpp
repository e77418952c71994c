// Runs health probes: many at once, none blocking, each bounded by its timeout, so
// a hung real costs nothing but its own probe. The monitor (health_monitor.hpp)
// decides what to probe and when; unit tests give it a fake Prober.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dogfish/base/address.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/health_check.hpp"

namespace dogfish {

using HealthClock = std::chrono::steady_clock;

// One probe: what to ask whom, and how long to wait.
struct ProbeSpec {
  HealthType type = HealthType::tcp;  // never none
  Endpoint target;                    // the VIP's address (via vip) or the real's
  IpAddress real;                     // whose health it is
  std::uint32_t mark = 0;  // via vip: DF_PROBE_MARK | slot, the socket's SO_MARK; 0: none
  std::string path = "/";  // http
  std::uint32_t status = 200;
  std::string payload, expect;  // udp
  std::chrono::milliseconds timeout{500};
};

struct ProbeResult {
  std::uint64_t id = 0;
  bool passed = false;
  std::string detail;  // "ok", "connection refused", "timed out", "status 503", ...
};

class Prober {
 public:
  virtual ~Prober() = default;
  // Starts probe `id` (the caller's name for it; one at a time per id).
  virtual void start(std::uint64_t id, const ProbeSpec& spec, HealthClock::time_point now) = 0;
  // The probes that finished (answered, failed, or timed out by `now`) since the last call.
  virtual std::vector<ProbeResult> collect(HealthClock::time_point now) = 0;
  // When the earliest running probe times out.
  virtual std::optional<HealthClock::time_point> next_deadline() const = 0;
  // Readable when a probe has news; -1 when there is nothing to wait on.
  virtual int fd() const = 0;
};

// Probes with non-blocking sockets on one epoll descriptor. The kernel picks the
// source address, so the reals must route their answer back to the balancer. A marked
// probe's socket is bound to `device`, the interface whose tc egress program
// encapsulates it (empty: routed as the kernel likes).
class SocketProber : public Prober {
 public:
  explicit SocketProber(std::string device = {});
  void start(std::uint64_t id, const ProbeSpec& spec, HealthClock::time_point now) override;
  std::vector<ProbeResult> collect(HealthClock::time_point now) override;
  std::optional<HealthClock::time_point> next_deadline() const override;
  int fd() const override { return epoll_.get(); }

 private:
  struct Probe {
    ProbeSpec spec;
    UniqueFd socket;
    HealthClock::time_point deadline;
    bool sent = false;     // tcp and http: connected; udp: datagram sent
    std::string received;  // http: the answer so far
  };
  // Moves a probe one step on readiness; a result when it finished.
  std::optional<ProbeResult> step(std::uint64_t id, Probe& probe, std::uint32_t events);
  std::optional<ProbeResult> on_writable(std::uint64_t id, Probe& probe);
  std::optional<ProbeResult> on_readable(std::uint64_t id, Probe& probe);

  // SO_MARK and the device for a marked probe; false with errno set when refused.
  bool mark(int socket, std::uint32_t mark) const;

  std::string device_;
  UniqueFd epoll_;
  std::map<std::uint64_t, Probe> probes_;
  std::vector<ProbeResult> done_;  // failed at the start: reported by the next collect()
};

}  // namespace dogfish
