// Whether the balancer's program can take traffic: its interface up with a carrier and the
// daemon's XDP program attached to it. The daemon polls it on its event loop and tells the
// announcements (announcer.hpp): a link down, or a program detached by anything but the daemon
// (`ip link set dev X xdp off`), withdraws every VIP, since a router would go on sending
// traffic that nothing forwards; the program back (re-attached, or another program on the
// same pinned maps: a successor) announces them again. A link that comes back also unsettles
// every real's health (health_monitor.hpp): what the probes found while it was down says
// nothing about the reals, so the VIPs wait for new results before they are announced.
//
// Polled, not subscribed to rtnetlink: one timer covers the link and the program at one
// ioctl and one netlink request a period, and the period (kServingPoll) is far below a
// check's fall x interval, so no flap long enough to take a real down goes unseen.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "dogfish/health_monitor.hpp"

namespace dogfish {

inline constexpr std::chrono::milliseconds kServingPoll{100};

struct ServingState {
  bool link_up = true;
  bool attached = true;
  bool serving() const { return link_up && attached; }
  bool operator==(const ServingState&) const = default;
};

std::string to_string(const ServingState& state);  // "link up, program attached"

// Reads the state from the kernel, in the calling thread's network namespace. `ours` says
// whether the XDP program of an id is the daemon's. An interface gone is down and detached.
ServingState read_serving(const std::string& ifname,
                          const std::function<bool(std::uint32_t prog_id)>& ours);

// Follows the state from one poll to the next.
class ServingWatch {
 public:
  using Read = std::function<ServingState()>;
  using Changed = std::function<void(const ServingState& now)>;

  // Starts from serving: the daemon has just attached.
  ServingWatch(Read read, HealthMonitor& health, Changed changed);

  // Reads the state; on a change logs it, unsettles the health when the link came back, and
  // calls `changed`.
  void poll();
  const ServingState& state() const { return state_; }

 private:
  Read read_;
  HealthMonitor& health_;
  Changed changed_;
  ServingState state_;
};

}  // namespace dogfish
