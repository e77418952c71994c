// BIRD in a BGP lab: one on the gateway and one on each balancer, each run by the lab with its
// own configuration, control socket and pid file under the lab's record directory (never the
// system's /etc/bird or /run/bird). Each balancer has an eBGP session to the gateway per IP
// family, with BFD when the topology asks; the gateway installs every VIP with one next hop
// per balancer that announces it (ECMP). What a balancer announces is its daemon's choice:
// BIRD includes the file the daemon writes (balancer/include/dogfish/announcer.hpp).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "dogfish/lab/plan.hpp"
#include "dogfish/lab/topology.hpp"

namespace dogfish::lab {

// One BIRD's files, in <record>/bird-<node>/.
struct BirdFiles {
  std::filesystem::path dir, config, socket, pid, include, log;
};
BirdFiles bird_files(const std::string& node);

// The BFD timers every session uses: a balancer silent for interval x multiplier is gone.
// 100 ms x 5, not the usual x 3: on a shared 2-core machine BIRD is sometimes not scheduled for
// 300 ms and a live session would flap.
inline constexpr int kBfdIntervalMs = 100;
inline constexpr int kBfdMultiplier = 5;

std::string gateway_bird_config(const Topology& t, const Plan& plan);
// `include` is the file the balancer's daemon writes (empty until it first announces).
std::string balancer_bird_config(const Topology& t, const PlannedBalancer& b,
                                 const std::filesystem::path& include);

// The names of a balancer's sessions: on the balancer, "gw_v4" and "gw_v6"; on the gateway,
// "<node>_v4" and "<node>_v6".
std::string session_name(const std::string& peer, bool v4);

// One BGP protocol as `show protocols all` tells it.
struct BgpSession {
  std::string state;  // "Established", "Active", "Connect", "Idle", "Passive", ...
  std::size_t imported = 0, exported = 0;
};

// The BGP protocols of the BIRD on `socket`, by name. Throws Error when BIRD does not answer.
std::map<std::string, BgpSession> bgp_sessions(const std::filesystem::path& socket);

// Parses `show protocols all`'s reply lines (the text of each, as BirdControl gives them).
std::map<std::string, BgpSession> parse_bgp_sessions(const std::vector<std::string>& lines);

}  // namespace dogfish::lab
