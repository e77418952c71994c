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
  IpPrefix src4_prefix = *IpPrefix::parse(kDefaultSrc4Prefix);
  IpPrefix src6_prefix = *IpPrefix::parse(kDefaultSrc6Prefix);
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
