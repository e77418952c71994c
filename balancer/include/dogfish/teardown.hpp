// `dogfish teardown`: takes the balancer's data plane down for good, once the daemon is stopped
// (a stopped daemon leaves it serving: daemon.hpp). Its programs come off the interface (XDP, and
// the health probes' tc egress program), and its pins go; every flow then re-hashes, as on a first
// start. A program that is not dogfish's is left where it is.
//
// With `announce` (a BGP balancer), its VIPs are withdrawn first, and the routers given the
// configuration's stop_delay to move the traffic, as a stopping daemon does: a daemon that died
// leaves its VIPs announced (its program still serves them), and the program must not leave
// before the routes do. A BIRD that does not answer is reported, not fatal: the include is empty
// by then, and a BIRD that starts announces nothing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dogfish/base/xdp.hpp"
#include "dogfish/config.hpp"

namespace dogfish {

struct TeardownOptions {
  std::string interface;                   // in the calling thread's network namespace
  std::string pin_dir;                     // empty: /sys/fs/bpf/dogfish/<interface>
  std::string socket_path;                 // a daemon answering here stops the teardown
  std::optional<AnnounceConfig> announce;  // the VIPs' routes, withdrawn first
};

struct TeardownReport {
  std::string pin_dir;
  bool interface_found = false;
  std::optional<XdpProgram> detached;  // dogfish's program, taken off the interface
  std::optional<XdpProgram> left;      // another program, left on it
  bool probe_encap_detached = false;   // dogfish's tc egress program (health probes), taken off
  std::vector<std::string> pins_removed;
  bool routes_withdrawn = false;  // BIRD took the empty set
  std::string routes_error;       // why it did not, with `announce`
};

// Throws Error when a daemon answers on the socket (it serves from what would be removed).
TeardownReport teardown(const TeardownOptions& options);

}  // namespace dogfish
