#include "dogfish/lab/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "dogfish/errors.hpp"

namespace dogfish::lab {

std::string lab_prefix() {
  const char* env = std::getenv("DOGFISH_LAB_PREFIX");
  const std::string prefix = env && *env ? env : "df-";
  if (prefix.size() > 16 ||
      prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
    throw Error(fmt::format("DOGFISH_LAB_PREFIX '{}' is not 1-16 of a-z, 0-9 and '-'", prefix));
  return prefix;
}

std::string netns_name(const std::string& node) { return lab_prefix() + node; }

std::optional<Decap> decap_override() {
  const char* env = std::getenv("DOGFISH_LAB_DECAP");
  if (!env || !*env) return std::nullopt;
  const std::string_view d = env;
  if (d == "bpf") return Decap::bpf;
  if (d == "kernel") return Decap::kernel;
  throw Error(fmt::format("DOGFISH_LAB_DECAP '{}' is not bpf or kernel", d));
}

std::vector<const PlannedEnd*> Plan::ends_of(const std::string& node) const {
  std::vector<const PlannedEnd*> out;
  for (const auto& l : links)
    for (const PlannedEnd* e : {&l.a, &l.b})
      if (e->node == node) out.push_back(e);
  return out;
}

Plan make_plan(const Topology& t) {
  Plan plan;
  // A second link between the same two nodes gets a number: "real1", "real1-2".
  std::map<std::pair<std::string, std::string>, int> seen;
  auto end = [&](const LinkEnd& self, const LinkEnd& other) {
    const int n = ++seen[{self.node, other.node}];
    return PlannedEnd{self.node, netns_name(self.node),
                      n == 1 ? other.node : fmt::format("{}-{}", other.node, n), self.addresses};
  };
  for (const Link& l : t.links)
    plan.links.push_back(PlannedLink{end(l.a, l.b), end(l.b, l.a), l.mtu});

  for (const Node& n : t.nodes) {
    if (n.role == Role::balancer) plan.balancer_node = n.name;
    if (n.role == Role::gateway) plan.gateway_node = n.name;
  }
  for (const PlannedLink& l : plan.links) {
    for (auto [self, other] : {std::pair{&l.a, &l.b}, std::pair{&l.b, &l.a}}) {
      if (self->node != plan.balancer_node) continue;
      if (other->node != plan.gateway_node)
        throw Error(fmt::format("the balancer '{}' links to '{}', not to the gateway '{}'",
                                self->node, other->node, plan.gateway_node));
      plan.balancer_interface = self->interface;
      plan.gateway_interface = other->interface;
      // The daemon resolves the gateway's MAC from this address: IPv4 when there is one.
      const auto& addrs = other->addresses;
      if (addrs.empty())
        throw Error(fmt::format("the gateway '{}' has no address on its link to the balancer",
                                other->node));
      const auto v4 = std::find_if(addrs.begin(), addrs.end(),
                                   [](const IpPrefix& p) { return p.address.is_v4(); });
      plan.gateway_address = (v4 != addrs.end() ? *v4 : addrs.front()).address;
    }
  }
  return plan;
}

namespace {

std::string quoted(const IpAddress& a) { return fmt::format("\"{}\"", a.to_string()); }

const char* xdp_mode_name(XdpMode m) {
  switch (m) {
    case XdpMode::native:
      return "native";
    case XdpMode::generic:
      return "generic";
    case XdpMode::automatic:
      break;
  }
  return "auto";
}

}  // namespace

std::string balancer_config(const Topology& t, const Plan& plan) {
  std::string y = fmt::format(
      "# Made by dogfish-lab from the topology '{}'; `dogfish run --config` reads it.\n"
      "interface: {}\n"
      "xdp_mode: {}\n"
      "gateway: {}\n"
      "source_prefixes:\n  ipv4: \"{}\"\n  ipv6: \"{}\"\n"
      "# A lab sees few flows: a small table keeps the daemon's memory small.\n"
      "conn_table_size: 65536\n"
      "# max_packet_size is left to its default: the balancer link's MTU, read by the daemon.\n"
      "vips:\n",
      t.name, plan.balancer_interface, xdp_mode_name(t.balancer.xdp_mode),
      quoted(plan.gateway_address), t.balancer.src4_prefix.to_string(),
      t.balancer.src6_prefix.to_string());
  for (const LabVip& v : t.vips)
    for (const Service& s : v.services) {
      y += fmt::format("  - address: {}\n    port: {}\n    proto: {}\n    reals:\n",
                       quoted(v.address), s.port, s.proto == Proto::tcp ? "tcp" : "udp");
      for (const LabReal& r : v.reals)
        y += fmt::format("      - {{address: {}, weight: {}}}\n", quoted(r.address), r.weight);
    }
  return y;
}

}  // namespace dogfish::lab
