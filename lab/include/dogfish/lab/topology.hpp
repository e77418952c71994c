// A lab topology (topologies/*.yaml): nodes with roles, the links between them
// with their addresses, routes, VIPs with their services and reals, and the
// balancer's settings. load_topology validates everything the lab builder relies
// on and names file, line and reason (ConfigError) for anything else.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dogfish/base/address.hpp"
#include "dogfish/base/balancer_schema.hpp"
#include "dogfish/base/encap.hpp"
#include "dogfish/base/proto.hpp"
#include "dogfish/base/xdp.hpp"

namespace dogfish::lab {

enum class Role { client, gateway, balancer, real };
std::string_view to_string(Role role);  // "client", "gateway", "balancer", "real"
std::optional<Role> parse_role(std::string_view name);
std::string role_names();  // "client, gateway, balancer, real", for errors

// How a real strips the encapsulation: dogfish's BPF program, or the kernel's
// tunnel devices (only where the kernel has them).
enum class Decap { bpf, kernel };
std::string_view to_string(Decap decap);  // "bpf", "kernel"
std::optional<Decap> parse_decap(std::string_view name);
std::string decap_names();  // "bpf or kernel", for errors

struct Route {
  std::optional<IpPrefix> to;  // nothing: the default route
  IpAddress via;
};

struct Node {
  std::string name;
  Role role = Role::client;
  Decap decap = Decap::bpf;  // reals only
  bool standby = false;      // balancers only: built, its daemon not started by `up`
  std::vector<Route> routes;
};

struct LinkEnd {
  std::string node;
  std::vector<IpPrefix> addresses;  // address/length, host bits set
};

struct Link {
  LinkEnd a, b;
  std::uint32_t mtu = 1500;
};

struct Service {
  std::uint16_t port = 0;
  Proto proto = Proto::tcp;
};

struct LabReal {
  std::string node;
  IpAddress address;  // given, or the node's first link address of the VIP's family
  std::uint32_t weight = 1;
};

struct LabVip {
  IpAddress address;  // a prefix VIP's: the prefix's (host bits zero)
  std::vector<Service> services;
  std::vector<LabReal> reals;
  std::optional<std::uint8_t> prefix_len;  // a prefix VIP (address: 10.100.1.0/24) has one

  // "10.100.0.1", "10.100.1.0/24": as the balancer's configuration writes it.
  std::string address_text() const;
  // Where a real takes the VIP: its address alone, or its prefix.
  IpPrefix addresses() const;
};

struct BalancerSettings {
  IpPrefix src4_prefix = *IpPrefix::parse(kDefaultSrc4Prefix);
  IpPrefix src6_prefix = *IpPrefix::parse(kDefaultSrc6Prefix);
  XdpMode xdp_mode = XdpMode::automatic;
  // A lab sees few flows: a small table keeps the daemon's memory small.
  std::uint32_t conn_table_size = 65536;
  std::uint32_t conn_table_insert_rate = DF_DEFAULT_CONN_INSERT_RATE;
  bool health_checks = true;  // every service checked (plan.cpp's settings)
  Encap encap = Encap::ipip;  // how the balancer reaches every real
  std::uint16_t gue_port = DF_DEFAULT_GUE_PORT;
};

// Routing by BGP (BIRD on the gateway and on each balancer): each balancer announces its
// VIPs, the gateway spreads them over every balancer that does (ECMP, L4 hash).
struct BgpSettings {
  std::uint32_t gateway_as = 65000;
  std::uint32_t balancer_as = 65001;
  bool bfd = true;              // BFD on every session: a silent balancer is gone in 0.5 s
  std::uint32_t hold_time = 3;  // seconds; without BFD, how long a silent balancer is kept

  bool operator==(const BgpSettings&) const = default;
};

struct Topology {
  std::string name;
  std::vector<Node> nodes;
  std::vector<Link> links;
  std::vector<LabVip> vips;
  BalancerSettings balancer;
  std::optional<BgpSettings> bgp;  // nothing: the gateway's static routes lead to the balancer

  const Node* node(std::string_view name) const;
  // The links that touch a node, in file order.
  std::vector<const Link*> links_of(std::string_view node) const;
  // The balancer nodes, in file order.
  std::vector<const Node*> balancers() const;
};

Topology parse_topology(std::string_view text, const std::string& file);
Topology load_topology(const std::filesystem::path& path);

}  // namespace dogfish::lab
