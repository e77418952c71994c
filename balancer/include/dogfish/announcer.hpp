// What the balancer tells the network: the VIP addresses it serves (a prefix VIP's whole
// prefix; a VIP of one address as a full-length prefix), announced by a routing
// daemon (BIRD) to the routers in front, which spread the VIPs' traffic over every balancer
// that announces them (ECMP).
//
// The daemon decides: a VIP address is announced while the program serves (attached, its
// link up: serving.hpp) and a VIP service on it is configured with a real up (health checks);
// everything is withdrawn at stop. A balancer joins or rejoins only once its checks have
// settled (health_monitor.hpp): an address not announced is announced when every service on
// it is settled; announced, it stays while a service has a real up. So a balancer that starts,
// or whose link comes back, places no flow on a ring its peers do not have (a real its checks
// have not yet seen come up), while a real dying, seen by every balancer at once, withdraws
// nothing.
// BIRD does the routing: the announcer writes a file BIRD includes, two static protocols
// with one route per address or prefix,
//
//   protocol static dogfish_vips4 { ipv4; route 10.100.0.1/32 blackhole;
//                                   route 10.100.1.0/24 blackhole; }
//   protocol static dogfish_vips6 { ipv6; route fd00:100::1/128 blackhole; }
//
// and asks BIRD to re-read its configuration (`configure` on its control socket). BIRD's own
// configuration includes the file and exports those protocols' routes by BGP. The file is
// the truth: a BIRD that starts or restarts reads the current set, and a daemon killed with
// its program left attached (a restart) leaves its VIPs announced, as they still forward.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "dogfish/base/address.hpp"
#include "dogfish/config.hpp"
#include "dogfish/health_monitor.hpp"

namespace dogfish {

// The routes to announce: each VIP's addresses (ServiceKey::addresses()), once.
using VipRoutes = std::set<IpPrefix>;

// Announces a set of VIP routes, replacing the set announced before.
class Announcer {
 public:
  virtual ~Announcer() = default;
  // Never throws: a failure is logged and the set is tried again on the next call.
  virtual void announce(const VipRoutes& vips) = 0;
};

// What the health checks say of a VIP service (HealthMonitor::vip_health).
using VipHealthOf = std::function<VipHealth(const VipConfig&)>;
// Without health checks: every service up and settled.
VipHealth unchecked(const VipConfig&);

// The routes to announce for a Config, given those announced now: an address (or prefix) with
// a service up, if it is announced already or every service on it has settled.
VipRoutes addresses_to_announce(const Config& config, const VipHealthOf& health,
                                const VipRoutes& announced = {});

// The include file's text for a set of routes.
std::string bird_include(const VipRoutes& vips);

// Writes the include for a set of routes (atomically, by rename); throws Error.
void write_bird_include(const AnnounceConfig& config, const VipRoutes& vips);

// Through BIRD: writes the include and has BIRD re-read it.
class BirdAnnouncer : public Announcer {
 public:
  // Asks BIRD to re-read its configuration; throws Error when it cannot or will not.
  using Reconfigure = std::function<void()>;

  // `reconfigure` defaults to `configure` on config.bird_socket.
  explicit BirdAnnouncer(AnnounceConfig config, Reconfigure reconfigure = {});
  void announce(const VipRoutes& vips) override;

 private:
  AnnounceConfig config_;
  Reconfigure reconfigure_;
  std::optional<VipRoutes> told_;  // what BIRD last took; nothing after a failure
};

// The daemon's one hook. Told the applied Config after every apply and health change while
// the program is attached, it announces what is ready (addresses_to_announce); told that the
// program no longer serves (serving.hpp), it withdraws everything until it does again.
// stop() withdraws everything and waits `stop_delay` for the routers to move the traffic
// before the caller detaches. An error that ends the daemon withdraws too (the destructor),
// without waiting.
class VipAnnouncements {
 public:
  VipAnnouncements(std::unique_ptr<Announcer> announcer, std::chrono::milliseconds stop_delay,
                   VipHealthOf health = unchecked);
  ~VipAnnouncements();
  VipAnnouncements(const VipAnnouncements&) = delete;
  VipAnnouncements& operator=(const VipAnnouncements&) = delete;

  void applied(const Config& config);
  void set_serving(bool serving, const Config& config);
  void stop();

 private:
  std::unique_ptr<Announcer> announcer_;
  std::chrono::milliseconds stop_delay_;
  VipHealthOf health_;
  bool serving_ = true;
  bool told_ = false;  // something was announced since the start or the stop: withdraw at the end
  VipRoutes announced_;
};

// The daemon's announcements for a configuration: BIRD's when `announce` is set, none
// otherwise (nullptr).
std::unique_ptr<VipAnnouncements> make_announcements(const Config& config,
                                                     VipHealthOf health = unchecked);

}  // namespace dogfish
