// How a topology maps onto this host: which namespace each node gets, what each
// veth end is called, and the balancer daemon's configuration. Pure functions of
// the topology, so the builder, status and the tests agree on every name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dogfish/lab/topology.hpp"

namespace dogfish::lab {

// Every namespace of a lab is named prefix + node (`ip netns exec df-client ...` works).
// The prefix is "df-" unless $DOGFISH_LAB_PREFIX gives another (with $DOGFISH_LAB_DIR,
// two labs run side by side). Throws Error when it is not 1-16 of [a-z0-9-].
std::string lab_prefix();
std::string netns_name(const std::string& node);

// $DOGFISH_LAB_DECAP (bpf or kernel): how every real decapsulates, whatever the topology
// says; nothing when unset. Asked for this way, kernel decap is required: a kernel without
// the tunnel devices fails `up` instead of falling back to BPF, so a run meant to test the
// kernel's path cannot pass on the BPF one. Throws Error for any other value.
std::optional<Decap> decap_override();

struct PlannedEnd {
  std::string node;
  std::string netns;
  std::string
      interface;  // named after the node at the other end: `ip -n df-gw link` reads as a map
  std::vector<IpPrefix> addresses;
};

struct PlannedLink {
  PlannedEnd a, b;
  std::uint32_t mtu = 1500;
};

// A balancer and its one link, to the gateway.
struct PlannedBalancer {
  std::string node;
  std::string interface;                    // the balancer's end, where XDP attaches
  std::string gateway_interface;            // the gateway's end: gets the pass-through XDP program
  IpAddress gateway_address;                // the gateway's on that link, of the config's `gateway`
  std::vector<IpPrefix> addresses;          // the balancer's on that link
  std::vector<IpPrefix> gateway_addresses;  // the gateway's on that link
  bool standby = false;
};

struct Plan {
  std::vector<PlannedLink> links;
  std::vector<PlannedBalancer> balancers;  // in file order; the first is `status`'s `balancer`
  std::string gateway_node;

  // The interfaces of a node, in link order.
  std::vector<const PlannedEnd*> ends_of(const std::string& node) const;
};

// Throws Error when a balancer's one link does not lead to the gateway, or (with BGP) the
// link has no IPv4 address at either end (BGP's router id and the IPv4 session).
Plan make_plan(const Topology& topology);

// Where a balancer's daemon has BIRD announce its VIPs: `announce` in its configuration.
struct AnnouncePaths {
  std::string bird_socket;
  std::string include;
};

// Where every lab balancer serves GET /metrics, inside its own namespace (`metrics_listen`;
// `status --json` gives it as balancer.metrics).
inline constexpr const char* kLabMetricsListen = "127.0.0.1:9773";

// The YAML that `dogfish run --config` reads for one balancer, one VIP entry per service;
// with `announce`, the daemon has that BIRD announce the VIPs.
std::string balancer_config(const Topology& topology, const PlannedBalancer& balancer,
                            const std::optional<AnnouncePaths>& announce);

}  // namespace dogfish::lab
