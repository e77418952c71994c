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

struct Plan {
  std::vector<PlannedLink> links;
  std::string balancer_node;
  std::string balancer_interface;  // the balancer's one link, where XDP attaches
  std::string gateway_node;
  std::string
      gateway_interface;  // the gateway's end of that link: gets the pass-through XDP program
  IpAddress
      gateway_address;  // the gateway's address on that link, of the balancer config's `gateway`

  // The interfaces of a node, in link order.
  std::vector<const PlannedEnd*> ends_of(const std::string& node) const;
};

// Throws Error when the balancer's one link does not lead to the gateway.
Plan make_plan(const Topology& topology);

// The YAML that `dogfish run --config` reads, one VIP entry per service.
std::string balancer_config(const Topology& topology, const Plan& plan);

}  // namespace dogfish::lab
