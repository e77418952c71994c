// `dogfish teardown`: takes the balancer's data plane down for good, once the daemon is stopped
// (a stopped daemon leaves it serving: daemon.hpp). Its programs come off the interface (XDP, and
// the health probes' tc egress program), and its pins go; every flow then re-hashes, as on a first
// start. A program that is not dogfish's is left where it is.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dogfish/base/xdp.hpp"

namespace dogfish {

struct TeardownOptions {
  std::string interface;    // in the calling thread's network namespace
  std::string pin_dir;      // empty: /sys/fs/bpf/dogfish/<interface>
  std::string socket_path;  // a daemon answering here stops the teardown
};

struct TeardownReport {
  std::string pin_dir;
  bool interface_found = false;
  std::optional<XdpProgram> detached;  // dogfish's program, taken off the interface
  std::optional<XdpProgram> left;      // another program, left on it
  bool probe_encap_detached = false;   // dogfish's tc egress program (health probes), taken off
  std::vector<std::string> pins_removed;
};

// Throws Error when a daemon answers on the socket (it serves from what would be removed).
TeardownReport teardown(const TeardownOptions& options);

}  // namespace dogfish
