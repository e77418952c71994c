// The lab's plan: names every later step and `status` agree on, and a balancer
// configuration that dogfish's own parser accepts and that says what the topology says.
#include "dogfish/lab/plan.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/yaml_reader.hpp"
#include "dogfish/config.hpp"
#include "scoped_env.hpp"

namespace dogfish::lab {
namespace {

const std::string kTopologies = DOGFISH_SOURCE_DIR "/topologies/";

TEST(Plan, NamesInterfacesAfterThePeerAndNamespacesWithThePrefix) {
  const ScopedEnv unset("DOGFISH_LAB_PREFIX", nullptr);  // the default, whatever the caller's
  const Plan plan = make_plan(load_topology(kTopologies + "basic.yaml"));
  ASSERT_EQ(plan.links.size(), 4u);
  EXPECT_EQ(plan.links[0].a.netns, "df-client");
  EXPECT_EQ(plan.links[0].a.interface, "gw");
  EXPECT_EQ(plan.links[0].b.interface, "client");
  ASSERT_EQ(plan.balancers.size(), 1u);
  const PlannedBalancer& b = plan.balancers[0];
  EXPECT_EQ(b.node, "lb");
  EXPECT_EQ(b.interface, "gw");
  EXPECT_EQ(plan.gateway_node, "gw");
  EXPECT_EQ(b.gateway_interface, "lb");
  EXPECT_EQ(b.gateway_address.to_string(), "10.0.2.1");
  EXPECT_FALSE(b.standby);
  const auto gw = plan.ends_of("gw");
  ASSERT_EQ(gw.size(), 4u);
  EXPECT_EQ(gw[3]->interface, "real2");
}

TEST(Plan, PrefixIsDfUnlessTheEnvironmentNamesAnother) {
  const ScopedEnv prefix("DOGFISH_LAB_PREFIX", nullptr);
  EXPECT_EQ(netns_name("client"), "df-client");
  prefix.set("l2-");
  EXPECT_EQ(netns_name("client"), "l2-client");
  prefix.set("Bad_");
  EXPECT_THROW(netns_name("client"), Error);
}

TEST(Plan, DecapOverrideIsBpfOrKernelOrNothing) {
  const ScopedEnv decap("DOGFISH_LAB_DECAP", nullptr);
  EXPECT_EQ(decap_override(), std::nullopt);
  decap.set("kernel");
  EXPECT_EQ(decap_override(), Decap::kernel);
  decap.set("ebpf");
  try {
    decap_override();
    FAIL() << "DOGFISH_LAB_DECAP=ebpf was accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "DOGFISH_LAB_DECAP 'ebpf' is not bpf or kernel");
  }
}

TEST(Plan, SecondLinkBetweenTheSameNodesGetsANumber) {
  const Topology t = parse_topology(R"(
name: twice
nodes:
  - {name: c, role: client}
  - {name: g, role: gateway}
  - {name: b, role: balancer}
  - {name: r, role: real}
links:
  - ends: [{node: c, addresses: [10.0.1.2/24]}, {node: g, addresses: [10.0.1.1/24]}]
  - ends: [{node: g, addresses: [10.0.2.1/24]}, {node: b, addresses: [10.0.2.2/24]}]
  - ends: [{node: g, addresses: [10.0.3.1/24]}, {node: r, addresses: [10.0.3.2/24]}]
  - ends: [{node: g, addresses: [10.0.4.1/24]}, {node: r, addresses: [10.0.4.2/24]}]
)",
                                    "twice.yaml");
  const Plan plan = make_plan(t);
  EXPECT_EQ(plan.links[2].a.interface, "r");
  EXPECT_EQ(plan.links[3].a.interface, "r-2");
  EXPECT_EQ(plan.links[3].b.interface, "g-2");
}

TEST(Plan, BalancerMustLinkToTheGateway) {
  const Topology t = parse_topology(R"(
name: astray
nodes:
  - {name: c, role: client}
  - {name: g, role: gateway}
  - {name: b, role: balancer}
  - {name: r, role: real}
links:
  - ends: [{node: c, addresses: [10.0.1.2/24]}, {node: g, addresses: [10.0.1.1/24]}]
  - ends: [{node: r, addresses: [10.0.2.1/24]}, {node: b, addresses: [10.0.2.2/24]}]
  - ends: [{node: g, addresses: [10.0.3.1/24]}, {node: r, addresses: [10.0.3.2/24]}]
)",
                                    "astray.yaml");
  try {
    make_plan(t);
    FAIL() << "a balancer beside a real was accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the balancer 'b' links to 'r', not to the gateway 'g'");
  }
}

TEST(Plan, APrefixVipGoesToTheBalancerAsItsPrefix) {
  std::string text = YamlReader::read_file(kTopologies + "basic.yaml");
  const std::size_t at = text.find("\nbalancer:");
  ASSERT_NE(at, std::string::npos);
  text.insert(at,
              "  - address: \"fd00:101::/120\"\n    services: [{port: 80, proto: tcp}]\n"
              "    reals: [{node: real1}]\n");
  const Topology t = parse_topology(text, "basic+prefix.yaml");
  const Plan plan = make_plan(t);
  const Config c = parse_config(balancer_config(t, plan.balancers.back(), std::nullopt), "g.yaml");
  ASSERT_FALSE(c.vips.empty());
  EXPECT_EQ(vip_name(c.vips.back()), "[fd00:101::/120]:80/tcp");
  EXPECT_EQ(c.vips.back().reals.at(0).address.to_string(), "fd00:3::2");
}

TEST(Plan, BalancerConfigIsWhatTheTopologySays) {
  for (const char* file :
       {"basic.yaml", "multi-real.yaml", "flood.yaml", "ecmp.yaml", "gue.yaml"}) {
    SCOPED_TRACE(file);
    const Topology t = load_topology(kTopologies + file);
    const Plan plan = make_plan(t);
    const PlannedBalancer& b = plan.balancers.back();
    const std::optional<AnnouncePaths> announce =
        t.bgp ? std::optional(AnnouncePaths{"/run/b/bird.ctl", "/run/b/vips.conf"}) : std::nullopt;
    const Config c = parse_config(balancer_config(t, b, announce), "generated.yaml");
    EXPECT_EQ(c.interface, b.interface);
    ASSERT_TRUE(std::holds_alternative<IpAddress>(c.gateway));
    EXPECT_EQ(std::get<IpAddress>(c.gateway), b.gateway_address);
    EXPECT_EQ(c.src4_prefix, t.balancer.src4_prefix);
    EXPECT_EQ(c.src6_prefix, t.balancer.src6_prefix);
    EXPECT_EQ(c.max_packet_size, std::nullopt) << "auto: the daemon reads the link's MTU";
    EXPECT_EQ(c.conn_table_size, t.balancer.conn_table_size);
    EXPECT_EQ(c.conn_table_insert_rate, t.balancer.conn_table_insert_rate);
    EXPECT_EQ(c.encap, t.balancer.encap);
    EXPECT_EQ(c.gue_port, t.balancer.gue_port);
    EXPECT_EQ(c.metrics_listen, Endpoint::parse(kLabMetricsListen));
    EXPECT_EQ(c.announce.has_value(), t.bgp.has_value());
    if (c.announce) {
      EXPECT_EQ(c.announce->include, "/run/b/vips.conf");
    }
    std::size_t k = 0;
    for (const LabVip& v : t.vips)
      for (const Service& s : v.services) {
        ASSERT_LT(k, c.vips.size());
        const VipConfig& vc = c.vips[k++];
        EXPECT_EQ(vc.address, v.address);
        EXPECT_EQ(vc.prefix_len, v.prefix_len);
        EXPECT_EQ(vc.port, s.port);
        EXPECT_EQ(vc.proto, s.proto);
        // Health checked as clients use the service, fast enough to see in a test; or,
        // where the topology says so (health_checks: false), not at all.
        if (t.balancer.health_checks) {
          EXPECT_EQ(to_string(vc.health.type), to_string(s.proto));
          EXPECT_LE(vc.health.interval_ms, 1000u);
          EXPECT_LE(vc.health.fall, 3u);
          EXPECT_LE(vc.health.rise, 3u);
        } else {
          EXPECT_EQ(to_string(vc.health.type), "none");
        }
        ASSERT_EQ(vc.reals.size(), v.reals.size());
        for (std::size_t i = 0; i < v.reals.size(); ++i) {
          EXPECT_EQ(vc.reals[i].address, v.reals[i].address);
          EXPECT_EQ(vc.reals[i].weight, v.reals[i].weight);
        }
      }
    EXPECT_EQ(k, c.vips.size());
  }
}

}  // namespace
}  // namespace dogfish::lab
