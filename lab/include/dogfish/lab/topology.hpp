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

#include "dogfish/address.hpp"
#include "dogfish/config.hpp"

namespace dogfish::lab {

enum class Role { client, gateway, balancer, real };
std::string_view role_name(Role role);

// How a real strips the encapsulation: dogfish's BPF program, or the kernel's
// tunnel devices (only where the kernel has them).
enum class Decap { bpf, kernel };

struct Route {
  std::optional<IpPrefix> to;  // nothing: the default route
  IpAddress via;
};

struct Node {
  std::string name;
  Role role = Role::client;
  Decap decap = Decap::bpf;  // reals only
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
  IpAddress address;
  std::vector<Service> services;
  std::vector<LabReal> reals;
};

struct BalancerSettings {
  IpPrefix src4_prefix = *IpPrefix::parse("172.16.0.0/12");
  IpPrefix src6_prefix = *IpPrefix::parse("fd00:df::/96");
  XdpMode xdp_mode = XdpMode::automatic;
  // A lab sees few flows: a small table keeps the daemon's memory small.
  std::uint32_t conn_table_size = 65536;
  std::uint32_t conn_table_insert_rate = DF_DEFAULT_CONN_INSERT_RATE;
};

struct Topology {
  std::string name;
  std::vector<Node> nodes;
  std::vector<Link> links;
  std::vector<LabVip> vips;
  BalancerSettings balancer;

  const Node* node(std::string_view name) const;
  // The links that touch a node, in file order.
  std::vector<const Link*> links_of(std::string_view node) const;
};

Topology parse_topology(std::string_view text, const std::string& file);
Topology load_topology(const std::filesystem::path& path);

}  // namespace dogfish::lab
