#include "dogfish/lab/plan.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "dogfish/base/errors.hpp"

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
  if (const std::optional<Decap> d = parse_decap(env)) return d;
  throw Error(fmt::format("DOGFISH_LAB_DECAP '{}' is not {}", env, decap_names()));
}

std::vector<const PlannedEnd*> Plan::ends_of(const std::string& node) const {
  std::vector<const PlannedEnd*> out;
  for (const auto& l : links)
    for (const PlannedEnd* e : {&l.a, &l.b})
      if (e->node == node) out.push_back(e);
  return out;
}

namespace {

bool has_v4(const std::vector<IpPrefix>& addrs) {
  return std::any_of(addrs.begin(), addrs.end(),
                     [](const IpPrefix& p) { return p.address.is_v4(); });
}

PlannedBalancer plan_balancer(const Topology& t, const Plan& plan, const Node& node) {
  for (const PlannedLink& l : plan.links)
    for (auto [self, other] : {std::pair{&l.a, &l.b}, std::pair{&l.b, &l.a}}) {
      if (self->node != node.name) continue;
      if (other->node != plan.gateway_node)
        throw Error(fmt::format("the balancer '{}' links to '{}', not to the gateway '{}'",
                                self->node, other->node, plan.gateway_node));
      const auto& addrs = other->addresses;
      if (addrs.empty())
        throw Error(fmt::format("the gateway '{}' has no address on its link to the balancer",
                                other->node));
      if (t.bgp && !(has_v4(addrs) && has_v4(self->addresses)))
        throw Error(fmt::format(
            "BGP between '{}' and '{}' needs an IPv4 address at both ends of their link",
            other->node, self->node));
      // The daemon resolves the gateway's MAC from this address: IPv4 when there is one.
      const auto v4 = std::find_if(addrs.begin(), addrs.end(),
                                   [](const IpPrefix& p) { return p.address.is_v4(); });
      return PlannedBalancer{.node = node.name,
                             .interface = self->interface,
                             .gateway_interface = other->interface,
                             .gateway_address = (v4 != addrs.end() ? *v4 : addrs.front()).address,
                             .addresses = self->addresses,
                             .gateway_addresses = addrs,
                             .standby = node.standby};
    }
  throw Error(fmt::format("the balancer '{}' has no link", node.name));  // the parser's rule
}

}  // namespace

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

  for (const Node& n : t.nodes)
    if (n.role == Role::gateway) plan.gateway_node = n.name;
  for (const Node* b : t.balancers()) plan.balancers.push_back(plan_balancer(t, plan, *b));
  return plan;
}

namespace {

// Every service is health-checked the way its clients use it (TCP connect, UDP
// request and answer), at the VIP through each real (the default `via`), often
// enough that stopping a responder shows within about a second: down after
// 2 x 500 ms, up after 2.
void emit_health(YAML::Emitter& y, const Service& s) {
  y << YAML::Key << "health" << YAML::Value << YAML::Flow << YAML::BeginMap;
  y << YAML::Key << "type" << YAML::Value << std::string(to_string(s.proto));
  if (s.proto == Proto::udp) y << YAML::Key << "payload" << YAML::Value << "health";
  y << YAML::Key << "interval" << YAML::Value << "500ms";
  y << YAML::Key << "timeout" << YAML::Value << "250ms";
  y << YAML::Key << "rise" << YAML::Value << 2;
  y << YAML::Key << "fall" << YAML::Value << 2;
  y << YAML::EndMap;
}

// One `vips` entry of the balancer's configuration: a service of a VIP and its reals.
void emit_vip(YAML::Emitter& y, const LabVip& v, const Service& s, bool health_checks) {
  y << YAML::BeginMap;
  y << YAML::Key << "address" << YAML::Value << v.address_text();
  y << YAML::Key << "port" << YAML::Value << s.port;
  y << YAML::Key << "proto" << YAML::Value << std::string(to_string(s.proto));
  if (health_checks) emit_health(y, s);
  y << YAML::Key << "reals" << YAML::Value << YAML::BeginSeq;
  for (const LabReal& r : v.reals)
    y << YAML::Flow << YAML::BeginMap << YAML::Key << "address" << YAML::Value
      << r.address.to_string() << YAML::Key << "weight" << YAML::Value << r.weight << YAML::EndMap;
  y << YAML::EndSeq << YAML::EndMap;
}

}  // namespace

std::string balancer_config(const Topology& t, const PlannedBalancer& b,
                            const std::optional<AnnouncePaths>& announce) {
  YAML::Emitter y;
  y << YAML::Comment(fmt::format(
      "Made by dogfish-lab from the topology '{}'; `dogfish run --config` reads it.", t.name));
  y << YAML::BeginMap;
  y << YAML::Key << "interface" << YAML::Value << b.interface;
  y << YAML::Key << "xdp_mode" << YAML::Value << std::string(to_string(t.balancer.xdp_mode));
  y << YAML::Key << "gateway" << YAML::Value << b.gateway_address.to_string();
  y << YAML::Key << "source_prefixes" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "ipv4" << YAML::Value << t.balancer.src4_prefix.to_string();
  y << YAML::Key << "ipv6" << YAML::Value << t.balancer.src6_prefix.to_string();
  y << YAML::EndMap;
  y << YAML::Key << "conn_table_size" << YAML::Value << t.balancer.conn_table_size;
  y << YAML::Key << "conn_table_insert_rate" << YAML::Value << t.balancer.conn_table_insert_rate;
  y << YAML::Key << "encap" << YAML::Value << std::string(to_string(t.balancer.encap));
  y << YAML::Key << "gue_port" << YAML::Value << t.balancer.gue_port;
  y << YAML::Newline
    << YAML::Comment(
           "max_packet_size is left to its default: the balancer link's MTU, read by the daemon.");
  y << YAML::Newline << YAML::Comment("GET /metrics (Prometheus), in this balancer's namespace.");
  y << YAML::Key << "metrics_listen" << YAML::Value << kLabMetricsListen;
  if (announce) {
    y << YAML::Newline
      << YAML::Comment(
             "BIRD on this node announces the VIPs to the gateway by BGP; the gateway learns the "
             "withdrawal at stop within milliseconds, so one second of delay is plenty.");
    y << YAML::Key << "announce" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "bird_socket" << YAML::Value << announce->bird_socket;
    y << YAML::Key << "include" << YAML::Value << announce->include;
    y << YAML::Key << "stop_delay" << YAML::Value << 1;
    y << YAML::EndMap;
  }
  y << YAML::Key << "vips" << YAML::Value << YAML::BeginSeq;
  for (const LabVip& v : t.vips)
    for (const Service& s : v.services) emit_vip(y, v, s, t.balancer.health_checks);
  y << YAML::EndSeq << YAML::EndMap;
  if (!y.good()) throw Error("writing the balancer's configuration: " + y.GetLastError());
  return std::string(y.c_str()) + "\n";
}

}  // namespace dogfish::lab
