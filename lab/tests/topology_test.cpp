// Topologies: the shipped ones parse to what they say; a table of bad ones
// fails with file, line and reason.
#include "dogfish/lab/topology.hpp"

#include <gtest/gtest.h>

#include <string>

#include "dogfish/base/errors.hpp"

namespace dogfish::lab {
namespace {

const std::string kTopologies = DOGFISH_SOURCE_DIR "/topologies/";

TEST(Topology, BasicIsTheDefaultLabOfDesign) {
  Topology t = load_topology(kTopologies + "basic.yaml");
  EXPECT_EQ(t.name, "basic");
  ASSERT_EQ(t.nodes.size(), 5u);
  EXPECT_EQ(t.node("lb")->role, Role::balancer);
  EXPECT_EQ(t.node("gw")->role, Role::gateway);
  EXPECT_EQ(t.node("client")->role, Role::client);
  ASSERT_EQ(t.vips.size(), 2u);
  EXPECT_TRUE(t.vips[0].address.is_v4());
  EXPECT_TRUE(t.vips[1].address.is_v6());
  for (const LabVip& v : t.vips) {
    ASSERT_EQ(v.services.size(), 2u);
    EXPECT_EQ(v.services[0].proto, Proto::tcp);
    EXPECT_EQ(v.services[1].proto, Proto::udp);
    ASSERT_EQ(v.reals.size(), 2u);
    for (const LabReal& r : v.reals)
      EXPECT_EQ(r.address.family, v.address.family) << "a real's address follows its VIP's family";
  }
  EXPECT_EQ(t.vips[0].reals[1].address.to_string(), "10.0.4.2");
  EXPECT_EQ(t.vips[1].reals[0].address.to_string(), "fd00:3::2");
  EXPECT_EQ(t.links_of("lb").size(), 1u);
  EXPECT_EQ(t.links_of("lb")[0]->mtu, 1600u);
  EXPECT_EQ(t.node("client")->routes.size(), 2u);
  EXPECT_FALSE(t.node("client")->routes[0].to) << "default route";
  EXPECT_EQ(t.balancer.src4_prefix.to_string(), "172.16.0.0/12");
}

TEST(Topology, MultiRealHasEightRealsWithUnequalWeights) {
  Topology t = load_topology(kTopologies + "multi-real.yaml");
  ASSERT_EQ(t.vips.size(), 2u);
  ASSERT_EQ(t.vips[0].reals.size(), 8u);
  std::set<std::uint32_t> weights;
  for (const LabReal& r : t.vips[0].reals) weights.insert(r.weight);
  EXPECT_GE(weights.size(), 2u);
  EXPECT_EQ(t.vips[0].reals[7].weight, 4u);
}

// A small valid lab; each bad case replaces one piece of it.
const std::string kGood = R"(name: t
nodes:
  - {name: c, role: client}
  - {name: g, role: gateway}
  - {name: b, role: balancer}
  - {name: r, role: real, routes: [{to: default, via: 10.0.3.1}]}
links:
  - ends: [{node: c, addresses: [10.0.1.2/24]}, {node: g, addresses: [10.0.1.1/24]}]
  - ends: [{node: g, addresses: [10.0.2.1/24]}, {node: b, addresses: [10.0.2.2/24]}]
  - ends: [{node: g, addresses: [10.0.3.1/24, "fd00:3::1/64"]}, {node: r, addresses: [10.0.3.2/24, "fd00:3::2/64"]}]
vips:
  - {address: 10.100.0.1, services: [{port: 80, proto: tcp}], reals: [{node: r}]}
)";

std::string with(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(Topology, TheSmallLabIsValid) {
  Topology t = parse_topology(kGood, "t.yaml");
  EXPECT_EQ(t.vips[0].reals[0].address.to_string(), "10.0.3.2");
  EXPECT_EQ(t.vips[0].prefix_len, std::nullopt);
  EXPECT_EQ(t.vips[0].addresses().to_string(), "10.100.0.1/32");
}

TEST(Topology, AVipMayBeAPrefix) {
  Topology t = parse_topology(
      kGood +
          "  - {address: 10.100.1.0/24, services: [{port: 80, proto: tcp}], reals: [{node: "
          "r}]}\n",
      "t.yaml");
  ASSERT_EQ(t.vips.size(), 2u);
  EXPECT_EQ(t.vips[1].address.to_string(), "10.100.1.0");
  EXPECT_EQ(t.vips[1].prefix_len, 24);
  EXPECT_EQ(t.vips[1].address_text(), "10.100.1.0/24");
  EXPECT_EQ(t.vips[1].reals[0].address.to_string(), "10.0.3.2") << "a real of the VIP's family";
}

struct Bad {
  std::string text;
  std::string message;
};

class BadTopology : public ::testing::TestWithParam<Bad> {};

TEST_P(BadTopology, FailsWithFileLineAndReason) {
  try {
    parse_topology(GetParam().text, "t.yaml");
    FAIL() << "accepted: " << GetParam().message;
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), GetParam().message);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadTopology,
    ::testing::Values(
        Bad{"", "t.yaml: the file is empty"},
        Bad{with(kGood, "name: t", "name: Lab_1"),
            "t.yaml:1: name: 'Lab_1' is not 1-8 lowercase letters and digits, from a letter"},
        Bad{with(kGood, "name: t\n", "name: t\ncolour: red\n"),
            "t.yaml:2: colour: unknown key (expected one of: name, nodes, links, vips, balancer, "
            "bgp)"},
        Bad{with(kGood, "{name: c, role: client}", "{name: c, role: router}"),
            "t.yaml:3: nodes[0].role: 'router' is not a role (client, gateway, balancer, real)"},
        Bad{with(kGood, "{name: g, role: gateway}", "{name: c, role: gateway}"),
            "t.yaml:4: nodes[1]: a second node named 'c'"},
        Bad{with(kGood, "{name: b, role: balancer}", "{name: b, role: real}"),
            "t.yaml:3: nodes: a lab needs at least one balancer"},
        Bad{with(kGood, "{name: c, role: client}", "{name: c, role: client, decap: bpf}"),
            "t.yaml:3: nodes[0].decap: only reals decapsulate"},
        Bad{with(kGood, "via: 10.0.3.1", "via: 10.0.3"),
            "t.yaml:6: nodes[3].routes[0].via: '10.0.3' is not an IP address"},
        Bad{with(kGood, "to: default", "to: \"fd00::/64\""),
            "t.yaml:6: nodes[3].routes[0].to: fd00::/64 and via 10.0.3.1 are of different "
            "families"},
        Bad{with(kGood, "{node: c, addresses: [10.0.1.2/24]}",
                 "{node: x, addresses: [10.0.1.2/24]}"),
            "t.yaml:8: links[0].ends[0].node: no node named 'x'"},
        Bad{with(kGood, "[10.0.1.2/24]", "[10.0.1.2]"),
            "t.yaml:8: links[0].ends[0].addresses[0]: '10.0.1.2' is not address/length"},
        Bad{with(kGood, "{node: b, addresses: [10.0.2.2/24]}",
                 "{node: b, addresses: [10.0.1.2/24]}"),
            "t.yaml:9: links[1]: 10.0.1.2 is used twice"},
        Bad{with(kGood, "  - ends: [{node: c, addresses: [10.0.1.2/24]}",
                 "  - mtu: 100\n    ends: [{node: c, addresses: [10.0.1.2/24]}"),
            "t.yaml:8: links[0].mtu: 100 is out of range (1280-9000)"},
        Bad{with(kGood, "{node: g, addresses: [10.0.2.1/24]}, {node: b, addresses: [10.0.2.2/24]}",
                 "{node: g, addresses: [10.0.2.1/24]}, {node: c, addresses: [10.0.2.2/24]}"),
            "t.yaml:8: links: node 'b' has no link"},
        Bad{with(kGood, "[{node: r}]", "[{node: g}]"),
            "t.yaml:12: vips[0].reals[0].node: 'g' is a gateway, not a real"},
        Bad{with(kGood, "[{node: r}]", "[{node: r}, {node: r}]"),
            "t.yaml:12: vips[0].reals[1]: 'r' is listed twice"},
        Bad{with(kGood, "[{node: r}]", "[{node: r, address: 10.0.1.2}]"),
            "t.yaml:12: vips[0].reals[0].address: 10.0.1.2 is not an address of 'r'"},
        Bad{with(kGood, "[{node: r}]", "[{node: r, weight: 70000}]"),
            "t.yaml:12: vips[0].reals[0].weight: 70000 is out of range (0-65535)"},
        Bad{with(kGood, "{port: 80, proto: tcp}", "{port: 80, proto: sctp}"),
            "t.yaml:12: vips[0].services[0].proto: 'sctp' is not a protocol (tcp, udp)"},
        Bad{with(kGood, "[{port: 80, proto: tcp}]",
                 "[{port: 80, proto: tcp}, {port: 80, proto: tcp}]"),
            "t.yaml:12: vips[0].services[1]: 80/tcp is listed twice"},
        Bad{with(kGood, "services: [{port: 80, proto: tcp}]", "services: []"),
            "t.yaml:12: vips[0].services: a VIP needs at least one service"},
        Bad{with(with(kGood, "10.100.0.1", "\"fd00:100::1\""), ", \"fd00:3::2/64\"", ""),
            "t.yaml:12: vips[0].reals[0].node: 'r' has no IPv6 address for VIP fd00:100::1"},
        Bad{with(kGood, "[{node: r}]", "[{node: r, address: 10.0.3.2}]")
                .replace(kGood.find("10.100.0.1"), 10, "\"fd00:100::1\""),
            "t.yaml:12: vips[0].reals[0].address: an IPv6 VIP needs an IPv6 real (no 6-in-4)"},
        Bad{with(kGood, "address: 10.100.0.1", "address: 10.100.0.1/24"),
            "t.yaml:12: vips[0].address: 10.100.0.1/24 has bits set past the prefix length"},
        Bad{kGood + "  - {address: 10.100.0.1, services: [{port: 53, proto: udp}], reals: [{node: "
                    "r}]}\n",
            "t.yaml:13: vips[1]: VIP 10.100.0.1 is listed twice"},
        Bad{kGood + "balancer: {conn_table_size: 0}\n",
            "t.yaml:13: balancer.conn_table_size: 0 is out of range (1-268435456)"},
        Bad{kGood + "balancer: {xdp_mode: turbo}\n",
            "t.yaml:13: balancer.xdp_mode: 'turbo' is not an XDP mode (native, generic, auto)"},
        Bad{kGood + "balancer: {source_prefixes: {ipv4: 172.16.0.1/12}}\n",
            "t.yaml:13: balancer.source_prefixes.ipv4: 172.16.0.1/12 has bits set past the prefix "
            "length"},
        Bad{kGood + "balancer: {encap: vxlan}\n",
            "t.yaml:13: balancer.encap: 'vxlan' is not an encapsulation (ipip, gue)"},
        Bad{kGood + "balancer: {gue_port: 0}\n",
            "t.yaml:13: balancer.gue_port: 0 is out of range (1-65535)"},
        Bad{with(kGood, "{name: b, role: balancer}", "{name: b, role: balancer, standby: true}"),
            "t.yaml:3: nodes: the standby balancer 'b' needs a `bgp` section to join later"},
        Bad{with(kGood, "{name: r, role: real,", "{name: r, role: real, standby: false,"),
            "t.yaml:6: nodes[3].standby: only balancers stand by"},
        Bad{kGood + "bgp: {gateway_as: 65001, balancer_as: 65001}\n",
            "t.yaml:13: bgp: the gateway and the balancers share AS 65001: the sessions are eBGP"},
        Bad{kGood + "bgp: {bfd: yes}\n", "t.yaml:13: bgp.bfd: 'yes' is not true or false"},
        Bad{kGood + "bgp: {hold_time: 1}\n",
            "t.yaml:13: bgp.hold_time: 1 is out of range (3-65535)"},
        Bad{"name: t\nnodes: [\n", "t.yaml:3: end of sequence flow not found"}));

TEST(Topology, GueSendsGueToThreeRealsOneOfThemIpv4InIpv6) {
  Topology t = load_topology(kTopologies + "gue.yaml");
  EXPECT_EQ(t.balancer.encap, Encap::gue);
  EXPECT_EQ(t.balancer.gue_port, DF_DEFAULT_GUE_PORT);
  ASSERT_EQ(t.vips.size(), 2u);
  ASSERT_EQ(t.vips[0].reals.size(), 3u);
  EXPECT_TRUE(t.vips[0].address.is_v4());
  EXPECT_EQ(t.vips[0].reals[2].address.to_string(), "fd00:5::2") << "4in6 over GUE";
  EXPECT_EQ(parse_topology(kGood, "t.yaml").balancer.encap, Encap::ipip) << "the default";
}

TEST(Topology, EcmpHasThreeBalancersAndAStandbyByBgp) {
  Topology t = load_topology(kTopologies + "ecmp.yaml");
  std::vector<std::string> running, standby;
  for (const Node* b : t.balancers()) (b->standby ? standby : running).push_back(b->name);
  EXPECT_EQ(running, (std::vector<std::string>{"lb1", "lb2", "lb3"}));
  EXPECT_EQ(standby, std::vector<std::string>{"lb4"});
  ASSERT_TRUE(t.bgp);
  EXPECT_EQ(*t.bgp, (BgpSettings{.gateway_as = 65000, .balancer_as = 65001, .bfd = true}));
  EXPECT_EQ(t.vips.size(), 2u);
  EXPECT_EQ(t.vips[0].reals.size(), 4u);
  EXPECT_TRUE(t.node("gw")->routes.empty()) << "BGP brings the VIPs' routes";
}

TEST(Topology, SeveralBalancersNeedBgp) {
  std::string two = with(kGood, "  - {name: b, role: balancer}\n",
                         "  - {name: b, role: balancer}\n  - {name: b2, role: balancer}\n");
  two = with(two, "links:\n",
             "links:\n  - ends: [{node: g, addresses: [10.0.9.1/24]}, {node: b2, addresses: "
             "[10.0.9.2/24]}]\n");
  try {
    parse_topology(two, "t.yaml");
    FAIL() << "two balancers without bgp were accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "t.yaml:3: nodes: 2 balancers need a `bgp` section: the gateway spreads the VIPs "
                 "over them by ECMP of the routes they announce");
  }
  EXPECT_EQ(parse_topology(two + "bgp: {}\n", "t.yaml").balancers().size(), 2u);
}

TEST(Topology, AMissingFileIsNamed) {
  try {
    load_topology("/nonexistent/lab.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/lab.yaml: cannot read: No such file or directory");
  }
}

}  // namespace
}  // namespace dogfish::lab
