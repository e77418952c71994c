#include "dogfish/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "config_error.hpp"
#include "dogfish/base/errors.hpp"
#include "param_name.hpp"

namespace dogfish {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

constexpr const char* kGood = R"(interface: eth0
xdp_mode: native
gateway: 02:00:00:00:00:01
source_prefixes:
  ipv4: 172.16.0.0/12
  ipv6: "fd00:df::/96"
conn_table_size: 200000
conn_table_insert_rate: 5000
udp_idle_timeout: 60
max_packet_size: 1540
ring_size: 13
max_vips: 8
max_reals: 16
vips:
  - address: 10.100.0.1
    port: 80
    proto: tcp
    reals:
      - address: 10.0.1.1
      - address: 10.0.1.2
        weight: 3
      - { address: "fd00:1::2", weight: 0 }
  - address: "fd00:100::1"
    port: 53
    proto: udp
    flags: [no_conn_table, src_hash_only]
    reals:
      - address: "fd00:1::1"
)";

TEST(Config, ParsesAFullConfig) {
  const Config expected{
      .interface = "eth0",
      .xdp_mode = XdpMode::native,
      .gateway = *MacAddress::parse("02:00:00:00:00:01"),
      .src4_prefix = *IpPrefix::parse("172.16.0.0/12"),
      .src6_prefix = *IpPrefix::parse("fd00:df::/96"),
      .conn_table_size = 200000,
      .conn_table_insert_rate = 5000,
      .udp_idle_timeout_s = 60,
      .max_packet_size = 1540,
      .ring_size = 13,
      .max_vips = 8,
      .max_reals = 16,
      .vips =
          {
              {.address = ip("10.100.0.1"),
               .port = 80,
               .proto = Proto::tcp,
               .flags = 0,
               .reals = {{.address = ip("10.0.1.1"), .weight = 1},
                         {.address = ip("10.0.1.2"), .weight = 3},
                         {.address = ip("fd00:1::2"), .weight = 0}}},
              {.address = ip("fd00:100::1"),
               .port = 53,
               .proto = Proto::udp,
               .flags = DF_VIP_NO_CONN_TABLE | DF_VIP_SRC_HASH_ONLY,
               .reals = {{.address = ip("fd00:1::1"), .weight = 1}}},
          },
  };
  EXPECT_EQ(parse_config(kGood, "good.yaml"), expected);
}

TEST(Config, MinimalConfigTakesDefaults) {
  auto c = parse_config("interface: veth0\ngateway: 10.0.0.254\n", "min.yaml");
  Config expected{.interface = "veth0", .gateway = ip("10.0.0.254"), .vips = {}};
  EXPECT_EQ(c, expected);
  EXPECT_EQ(c.xdp_mode, XdpMode::automatic);
  EXPECT_EQ(c.ring_size, 65537U);
  EXPECT_EQ(c.udp_idle_timeout_s, 30U);
  EXPECT_TRUE(c.vips.empty());
}

TEST(Config, EncapsulationByDefaultAndPerReal) {
  Config c = parse_config(std::string("interface: lo\ngateway: fe80::1\nencap: gue\n") +
                              "gue_port: 7777\nvips:\n"
                              "  - address: 10.0.0.1\n    port: 80\n    proto: tcp\n    reals:\n"
                              "      - {address: 10.0.1.1}\n"
                              "      - {address: 10.0.1.2, encap: ipip}\n"
                              "  - address: 10.0.0.1\n    port: 53\n    proto: udp\n    reals:\n"
                              "      - {address: 10.0.1.2}\n",
                          "x.yaml");
  EXPECT_EQ(c.encap, Encap::gue);
  EXPECT_EQ(c.gue_port, 7777);
  EXPECT_EQ(c.vips[0].reals[0].encap, std::nullopt);
  EXPECT_EQ(c.vips[0].reals[1].encap, Encap::ipip);
  // 10.0.1.1 names none: the balancer's. 10.0.1.2 named in one VIP holds in the other: the
  // real's one entry in the data plane.
  const std::map<IpAddress, Encap> expected{{ip("10.0.1.1"), Encap::gue},
                                            {ip("10.0.1.2"), Encap::ipip}};
  EXPECT_EQ(real_encaps(c), expected);
  Config plain = parse_config("interface: lo\ngateway: fe80::1\n", "y.yaml");
  EXPECT_EQ(plain.encap, Encap::ipip);
  EXPECT_EQ(plain.gue_port, DF_DEFAULT_GUE_PORT);
}

TEST(Config, VipWithoutRealsAndEmptyLists) {
  auto c = parse_config(
      "interface: lo\ngateway: fe80::1\nvips:\n  - {address: 10.0.0.1, port: 1, proto: udp}\n",
      "x.yaml");
  ASSERT_EQ(c.vips.size(), 1U);
  EXPECT_TRUE(c.vips[0].reals.empty());
  EXPECT_EQ(vip_name(c.vips[0]), "10.0.0.1:1/udp");
  EXPECT_TRUE(std::holds_alternative<IpAddress>(c.gateway));
}

TEST(Config, AnyPortVipsAndHashChoices) {
  Config c =
      parse_config(std::string("interface: lo\ngateway: fe80::1\n") +
                       "vips:\n"
                       "  - {address: 10.0.0.1, port: '*', proto: tcp, flags: [dport_hash_only],"
                       " health: {type: tcp, port: 22}}\n"
                       "  - {address: 10.0.0.1, port: any, proto: udp}\n"
                       "  - {address: 10.0.0.1, port: 80, proto: tcp, flags: "
                       "[no_src_port_hash]}\n",
                   "c.yaml");
  ASSERT_EQ(c.vips.size(), 3u);
  EXPECT_EQ(c.vips[0].port, DF_VIP_ANY_PORT);
  EXPECT_EQ(c.vips[0].flags, DF_VIP_HASH_DPORT_ONLY);
  EXPECT_EQ(c.vips[0].health.port, 22);
  EXPECT_EQ(vip_name(c.vips[0]), "10.0.0.1:*/tcp");
  EXPECT_EQ(c.vips[1].port, DF_VIP_ANY_PORT);
  EXPECT_EQ(c.vips[2].flags, DF_VIP_HASH_NO_SRC_PORT);
}

TEST(Config, ServicesNameEveryPortWithAStar) {
  EXPECT_EQ(parse_service("10.0.0.1:*/udp"),
            (ServiceKey{*IpAddress::parse("10.0.0.1"), 0, Proto::udp}));
  EXPECT_EQ(parse_service("[fd00::1]:*"),
            (ServiceKey{*IpAddress::parse("fd00::1"), 0, Proto::tcp}));
  EXPECT_EQ(parse_service("[fd00::1]:443", Proto::udp),
            (ServiceKey{*IpAddress::parse("fd00::1"), 443, Proto::udp}));
  EXPECT_EQ(to_string(parse_service("[fd00::1]:*/udp")), "[fd00::1]:*/udp");
  for (const char* bad : {"10.0.0.1:0", "10.0.0.1:**", "10.0.0.1", "fd00::1:80", "[10.0.0.1]:80",
                          "[fd00::1]", "10.0.0.1:65536"})
    EXPECT_THROW(parse_service(bad), Error) << bad;
}

TEST(Config, PrefixVipsServeEveryAddressOfTheirPrefix) {
  Config c = parse_config(std::string("interface: lo\ngateway: fe80::1\n") +
                              "vips:\n"
                              "  - {address: 10.100.1.0/24, port: 80, proto: tcp}\n"
                              "  - {address: 10.100.1.0/24, port: '*', proto: tcp,"
                              " health: {type: tcp, port: 22}}\n"
                              "  - {address: 10.100.1.0/25, port: 80, proto: tcp}\n"
                              "  - {address: 10.100.1.0, port: 80, proto: tcp}\n"
                              "  - {address: 'fd00:101::/120', port: 53, proto: udp}\n",
                          "c.yaml");
  ASSERT_EQ(c.vips.size(), 5u);
  EXPECT_EQ(c.vips[0].address, ip("10.100.1.0"));
  EXPECT_EQ(c.vips[0].prefix_len, 24);
  EXPECT_EQ(vip_name(c.vips[0]), "10.100.1.0/24:80/tcp");
  EXPECT_EQ(vip_name(c.vips[1]), "10.100.1.0/24:*/tcp");
  EXPECT_EQ(vip_name(c.vips[2]), "10.100.1.0/25:80/tcp") << "another prefix: another VIP";
  EXPECT_EQ(c.vips[3].prefix_len, std::nullopt) << "the prefix's own address, alone, is another";
  EXPECT_EQ(vip_name(c.vips[4]), "[fd00:101::/120]:53/udp");
  EXPECT_EQ(ServiceKey::of(c.vips[4]).addresses(), *IpPrefix::parse("fd00:101::/120"));
  EXPECT_EQ(ServiceKey::of(c.vips[3]).addresses(), *IpPrefix::parse("10.100.1.0/32"));
}

TEST(Config, ServicesNameAPrefixWithItsLength) {
  const ServiceKey v4{ip("10.100.1.0"), 80, Proto::tcp, 24};
  EXPECT_EQ(parse_service("10.100.1.0/24:80/tcp"), v4);
  EXPECT_EQ(parse_service("10.100.1.0/24:80", Proto::tcp), v4) << "the protocol given apart";
  EXPECT_EQ(parse_service(vip_endpoint(v4), Proto::tcp), v4) << "as the CLI sends it";
  EXPECT_EQ(parse_service("[fd00:101::/120]:*/udp"),
            (ServiceKey{ip("fd00:101::"), 0, Proto::udp, 120}));
  EXPECT_EQ(to_string(parse_service("[fd00:101::/120]:*/udp")), "[fd00:101::/120]:*/udp");
  // Rules on the length and the host bits are validate_config's: parsed as written.
  EXPECT_EQ(parse_service("10.100.1.1/32:80").prefix_len, 32);
  for (const char* bad : {"10.100.1.0/24/tcp", "10.100.1.0/24", "10.100.1.0/33:80", "fd00::/64:80",
                          "[10.0.0.0/8]:80", "[fd00::/129]:80", "10.0.0.0/:80", "10.0.0.0/x:80"})
    EXPECT_THROW(parse_service(bad), Error) << bad;
}

TEST(Config, IPv4VipMayHaveIPv6Reals) {
  auto c = parse_config(
      "interface: lo\ngateway: 10.0.0.1\nvips:\n  - address: 10.0.0.1\n    port: 80\n"
      "    proto: tcp\n    reals: [{address: 'fd00::1'}]\n",
      "x.yaml");
  EXPECT_EQ(c.vips[0].reals[0].address, ip("fd00::1"));
}

TEST(Config, AnnounceIsOffUnlessGiven) {
  EXPECT_FALSE(parse_config("interface: lo\ngateway: 10.0.0.1\n", "x.yaml").announce);
  auto c = parse_config(
      "interface: lo\ngateway: 10.0.0.1\nannounce:\n  bird_socket: /run/b/bird.ctl\n"
      "  include: /run/b/vips.conf\n",
      "x.yaml");
  ASSERT_TRUE(c.announce);
  EXPECT_EQ(*c.announce, (AnnounceConfig{.bird_socket = "/run/b/bird.ctl",
                                         .include = "/run/b/vips.conf",
                                         .stop_delay_s = 2}));
}

TEST(Config, MetricsAreOffUnlessGiven) {
  const std::string top = "interface: lo\ngateway: 10.0.0.1\n";
  EXPECT_FALSE(parse_config(top, "x.yaml").metrics_listen);
  EXPECT_FALSE(parse_config(top + "metrics_listen: off\n", "x.yaml").metrics_listen);
  EXPECT_EQ(parse_config(top + "metrics_listen: 127.0.0.1:9773\n", "x.yaml").metrics_listen,
            Endpoint::parse("127.0.0.1:9773"));
  EXPECT_EQ(parse_config(top + "metrics_listen: '[::1]:9773'\n", "x.yaml").metrics_listen,
            Endpoint::parse("[::1]:9773"));
}

TEST(Config, MaxPacketSizeIsAutoUnlessGiven) {
  const std::string top = "interface: eth0\ngateway: 10.0.0.1\n";
  EXPECT_EQ(parse_config(top, "x").max_packet_size, std::nullopt) << "auto by default";
  EXPECT_EQ(parse_config(top + "max_packet_size: auto\n", "x").max_packet_size, std::nullopt);
  EXPECT_EQ(parse_config(top + "max_packet_size: 0\n", "x").max_packet_size, 0u)
      << "0 is no limit, said outright";
  EXPECT_EQ(parse_config(top + "max_packet_size: 9000\n", "x").max_packet_size, 9000u);
}

TEST(Config, IcmpSwitchesAreOnUnlessTurnedOff) {
  const std::string top = "interface: eth0\ngateway: 10.0.0.1\n";
  const Config on = parse_config(top, "x");
  EXPECT_TRUE(on.icmp_echo);
  EXPECT_TRUE(on.icmp_errors_to_reals);
  const Config off = parse_config(top + "icmp_echo: false\nicmp_errors_to_reals: false\n", "x");
  EXPECT_FALSE(off.icmp_echo);
  EXPECT_FALSE(off.icmp_errors_to_reals);
}

TEST(Config, LoadsAFileAndNamesItInErrors) {
  auto dir = std::filesystem::temp_directory_path() / "dogfish-config-test";
  std::filesystem::create_directories(dir);
  auto path = dir / "config.yaml";
  std::ofstream(path) << "interface: eth0\ngateway: 10.0.0.1\nvips:\n  - {address: 10.0.0.1, port: "
                         "0, proto: tcp}\n";
  try {
    load_config(path);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              path.string() + ":4: vips[0].port: 0 is not a port (1-65535, or * for every port)");
    EXPECT_EQ(e.line(), 4U);
  }
  std::filesystem::remove_all(dir);
  EXPECT_THROW(load_config(dir / "absent.yaml"), ConfigError);
}

TEST(Config, ExampleFileParses) {
  auto c = load_config(DOGFISH_EXAMPLE_CONFIG);
  EXPECT_EQ(c.interface, "eth0");
  EXPECT_EQ(c.gateway, Gateway{ip("10.0.0.1")});
  ASSERT_EQ(c.vips.size(), 2U);
  EXPECT_EQ(c.vips[0].reals[2].weight, 0U);
  EXPECT_EQ(c.vips[1].flags, DF_VIP_SRC_HASH_ONLY);
  // Every default written out in the example is the struct's default.
  Config defaults{.interface = "eth0", .gateway = ip("10.0.0.1"), .vips = c.vips};
  EXPECT_EQ(c, defaults);
}

struct BadConfig {
  const char* description;
  const char*
      yaml;  // after the two lines "interface: eth0\ngateway: 10.0.0.1\n" unless it starts with '!'
  const char* message;
};

const BadConfig kBad[] = {
    {"unknown top-level key", "colour: blue\n",
     "c.yaml:3: colour: unknown key (expected one of: interface, xdp_mode, "
     "gateway, source_prefixes, conn_table_size, conn_table_insert_rate, udp_idle_timeout, "
     "max_packet_size, icmp_echo, icmp_errors_to_reals, encap, gue_port, ring_size, max_vips, "
     "max_reals, vips, announce, metrics_listen)"},
    {"encap not one", "encap: vxlan\n",
     "c.yaml:3: encap: 'vxlan' is not an encapsulation (ipip, gue)"},
    {"gue port 0", "gue_port: 0\n", "c.yaml:3: gue_port: 0 is out of range (1-65535)"},
    {"gue port too large", "gue_port: 65536\n",
     "c.yaml:3: gue_port: 65536 is out of range (0-65535)"},
    {"real's encap not one",
     "vips:\n  - address: 10.0.0.1\n    port: 80\n    proto: tcp\n    reals:\n"
     "      - {address: 10.0.1.1, encap: fou}\n",
     "c.yaml:8: vips[0].reals[0].encap: 'fou' is not an encapsulation (ipip, gue)"},
    {"a real with two encapsulations",
     "vips:\n  - address: 10.0.0.1\n    port: 80\n    proto: tcp\n    reals:\n"
     "      - {address: 10.0.1.1, encap: gue}\n  - address: 10.0.0.1\n    port: 53\n"
     "    proto: udp\n    reals:\n      - {address: 10.0.1.2}\n"
     "      - {address: 10.0.1.1, encap: ipip}\n",
     "c.yaml:14: vips[1].reals[1].encap: real 10.0.1.1 is ipip here and gue in vips[0].reals[0]: "
     "a real has one encapsulation"},
    {"metrics_listen without a port", "metrics_listen: 127.0.0.1\n",
     "c.yaml:3: metrics_listen: '127.0.0.1' is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT) or off"},
    {"metrics_listen with port 0", "metrics_listen: '[::1]:0'\n",
     "c.yaml:3: metrics_listen: '[::1]:0' is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT) or off"},
    {"max packet size neither auto nor a number", "max_packet_size: mtu\n",
     "c.yaml:3: max_packet_size: 'mtu' is not a whole number"},
    {"max packet size too large", "max_packet_size: 70000\n",
     "c.yaml:3: max_packet_size: 70000 is out of range (0-65535)"},
    {"icmp switch not a boolean", "icmp_echo: yes\n",
     "c.yaml:3: icmp_echo: 'yes' is not true or false"},
    {"port out of range",
     "vips:\n  - address: 10.0.0.1\n    port: 80\n    proto: tcp\n  - address: 10.0.0.2\n    port: "
     "70000\n    proto: tcp\n",
     "c.yaml:8: vips[1].port: 70000 is not a port (1-65535, or * for every port)"},
    {"port not a number", "vips:\n  - {address: 10.0.0.1, port: http, proto: tcp}\n",
     "c.yaml:4: vips[0].port: http is not a port (1-65535, or * for every port)"},
    {"missing interface", "!gateway: 10.0.0.1\n", "c.yaml:1: missing key 'interface'"},
    {"missing gateway", "!interface: eth0\n", "c.yaml:1: missing key 'gateway'"},
    {"bad gateway", "!interface: eth0\ngateway: router\n",
     "c.yaml:2: gateway: 'router' is neither an IP address nor a MAC address"},
    {"bad xdp mode", "xdp_mode: fast\n",
     "c.yaml:3: xdp_mode: 'fast' is not an XDP mode (native, generic, auto)"},
    {"bad interface name", "!interface: a-very-long-interface-name\ngateway: 10.0.0.1\n",
     "c.yaml:1: interface: 'a-very-long-interface-name' is not an interface name (1-15 printable "
     "characters, no space, '/' or ':')"},
    {"ring size not prime", "ring_size: 65536\n", "c.yaml:3: ring_size: 65536 is not a prime"},
    {"ring size negative", "ring_size: -5\n", "c.yaml:3: ring_size: '-5' is not a whole number"},
    {"ipv6 source prefix too long", "source_prefixes:\n  ipv6: 'fd00::/112'\n",
     "c.yaml:4: source_prefixes.ipv6: fd00::/112 is longer than /96 (the data plane fills the last "
     "32 bits)"},
    {"ipv4 source prefix with host bits", "source_prefixes: {ipv4: 172.16.0.1/12}\n",
     "c.yaml:3: source_prefixes.ipv4: 172.16.0.1/12 has bits set past the prefix length"},
    {"ipv4 source prefix given an ipv6 prefix", "source_prefixes: {ipv4: 'fd00::/96'}\n",
     "c.yaml:3: source_prefixes.ipv4: 'fd00::/96' is not an IPv4 prefix (address/length)"},
    {"unknown source prefix key", "source_prefixes:\n  ipv5: 10.0.0.0/8\n",
     "c.yaml:4: source_prefixes.ipv5: unknown key (expected one of: ipv4, ipv6)"},
    {"udp idle timeout too long", "udp_idle_timeout: 100000\n",
     "c.yaml:3: udp_idle_timeout: 100000 is out of range (0-86400)"},
    {"bad VIP address", "vips:\n  - {address: 10.0.0.300, port: 80, proto: tcp}\n",
     "c.yaml:4: vips[0].address: '10.0.0.300' is not an IP address or a prefix (ADDRESS, or "
     "ADDRESS/LENGTH for every address of a prefix, LENGTH at most 32 for IPv4 and 128 for IPv6)"},
    {"prefix VIP longer than its family",
     "vips:\n  - {address: 10.0.0.0/33, port: 80, proto: tcp}\n",
     "c.yaml:4: vips[0].address: '10.0.0.0/33' is not an IP address or a prefix (ADDRESS, or "
     "ADDRESS/LENGTH for every address of a prefix, LENGTH at most 32 for IPv4 and 128 for IPv6)"},
    {"prefix VIP of one address",
     "vips:\n  - {address: 10.0.0.1, port: 80, proto: tcp}\n"
     "  - {address: 10.0.0.7/32, port: 80, proto: tcp}\n",
     "c.yaml:5: vips[1].address: 10.0.0.7/32: a prefix VIP's length is 1-31 for IPv4 (an address "
     "alone takes none: 10.0.0.7)"},
    {"prefix VIP of every address", "vips:\n  - {address: '::/0', port: '*', proto: udp}\n",
     "c.yaml:4: vips[0].address: ::/0: a prefix VIP's length is 1-127 for IPv6 (an address alone "
     "takes none: ::)"},
    {"prefix VIP with host bits",
     "vips:\n  - address: 10.100.1.1/24\n    port: 80\n    proto: tcp\n",
     "c.yaml:4: vips[0].address: 10.100.1.1/24 has bits set past the prefix length (the prefix is "
     "10.100.1.0/24)"},
    {"IPv6 prefix VIP with host bits",
     "vips:\n  - {address: 'fd00:100::1:0/96', port: 80, proto: tcp}\n",
     "c.yaml:4: vips[0].address: fd00:100::1:0/96 has bits set past the prefix length (the prefix "
     "is fd00:100::/96)"},
    {"the same prefix VIP twice",
     "vips:\n  - {address: 10.100.1.0/24, port: '*', proto: tcp}\n"
     "  - {address: 10.100.1.0/25, port: '*', proto: tcp}\n"
     "  - {address: 10.100.1.0/24, port: any, proto: tcp}\n",
     "c.yaml:6: vips[2]: 10.100.1.0/24:*/tcp is already vips[0]"},
    {"bad proto", "vips:\n  - {address: 10.0.0.1, port: 80, proto: sctp}\n",
     "c.yaml:4: vips[0].proto: 'sctp' is not a protocol (tcp, udp)"},
    {"VIP missing port", "vips:\n  - address: 10.0.0.1\n    proto: tcp\n",
     "c.yaml:4: vips[0]: missing key 'port'"},
    {"unknown VIP key",
     "vips:\n  - address: 10.0.0.1\n    port: 80\n    proto: tcp\n    sheduler: rr\n",
     "c.yaml:7: vips[0].sheduler: unknown key (expected one of: address, port, proto, flags, "
     "health, reals)"},
    {"bad flag",
     "vips:\n  - {address: 10.0.0.1, port: 80, proto: tcp, flags: [no_conn_table, sticky]}\n",
     "c.yaml:4: vips[0].flags[1]: 'sticky' is not a VIP flag (no_conn_table, src_hash_only, "
     "no_src_port_hash, dport_hash_only)"},
    {"VIP port a word", "vips:\n  - {address: 10.0.0.1, port: all, proto: tcp}\n",
     "c.yaml:4: vips[0].port: all is not a port (1-65535, or * for every port)"},
    {"two hash choices",
     "vips:\n  - address: 10.0.0.1\n    port: '*'\n    proto: tcp\n"
     "    flags: [src_hash_only, dport_hash_only]\n",
     "c.yaml:7: vips[0].flags: src_hash_only and dport_hash_only each choose what the ring "
     "hashes: give one"},
    {"dport hash on one port",
     "vips:\n  - address: 10.0.0.1\n    port: 80\n    proto: tcp\n    flags: [dport_hash_only]\n",
     "c.yaml:7: vips[0].flags: dport_hash_only is for any-port VIPs (port *): on port 80 it "
     "would send every flow to one real"},
    {"any-port VIP's health check without a port",
     "vips:\n  - address: 10.0.0.1\n    port: any\n    proto: tcp\n"
     "    health: {type: tcp, interval: 1s}\n",
     "c.yaml:7: vips[0].health.port: an any-port VIP's health check needs a port (health.port: "
     "1-65535)"},
    {"any-port VIP's real's health check without a port",
     "vips:\n  - address: 10.0.0.1\n    port: any\n    proto: tcp\n"
     "    health: {type: tcp, port: 22}\n    reals:\n      - address: 10.0.1.1\n"
     "        health: {port: 0}\n",
     "c.yaml:10: vips[0].reals[0].health.port: an any-port VIP's health check needs a port "
     "(health.port: 1-65535)"},
    {"duplicate VIP",
     "vips:\n  - {address: 10.0.0.1, port: 80, proto: tcp}\n  - {address: 10.0.0.1, port: 80, "
     "proto: udp}\n"
     "  - {address: 10.0.0.1, port: 80, proto: tcp}\n",
     "c.yaml:6: vips[2]: 10.0.0.1:80/tcp is already vips[0]"},
    {"duplicate real",
     "vips:\n  - address: 10.0.0.1\n    port: 80\n    proto: tcp\n    reals:\n      - address: "
     "10.0.1.1\n"
     "      - address: 10.0.1.2\n      - address: 10.0.1.1\n        weight: 2\n",
     "c.yaml:10: vips[0].reals[2].address: 10.0.1.1 is already reals[0] of this VIP"},
    {"IPv4 real behind IPv6 VIP",
     "vips:\n  - address: 'fd00::1'\n    port: 443\n    proto: tcp\n    reals:\n      - address: "
     "10.0.1.1\n",
     "c.yaml:8: vips[0].reals[0].address: IPv4 real 10.0.1.1 behind IPv6 VIP fd00::1 (the data "
     "plane cannot send "
     "IPv6 in IPv4)"},
    {"weight too big",
     "vips:\n  - address: 10.0.0.1\n    port: 80\n    proto: tcp\n    reals:\n"
     "      - {address: 10.0.1.1, weight: 70000}\n",
     "c.yaml:8: vips[0].reals[0].weight: 70000 is out of range (0-65535)"},
    {"real without address",
     "vips:\n  - address: 10.0.0.1\n    port: 80\n    proto: tcp\n    reals:\n"
     "      - weight: 2\n",
     "c.yaml:8: vips[0].reals[0]: missing key 'address'"},
    {"reals not a list", "vips:\n  - {address: 10.0.0.1, port: 80, proto: tcp, reals: 10.0.1.1}\n",
     "c.yaml:4: vips[0].reals: expected a list of reals"},
    {"key given twice", "max_vips: 4\nmax_vips: 5\n", "c.yaml:4: max_vips: key given twice"},
    {"too many VIPs",
     "max_vips: 1\nvips:\n  - {address: 10.0.0.1, port: 80, proto: tcp}\n  - {address: 10.0.0.2, "
     "port: 80, proto: tcp}\n",
     "c.yaml:5: vips: 2 VIPs, more than max_vips (1)"},
    {"too many reals",
     "max_reals: 2\nvips:\n  - {address: 10.0.0.1, port: 80, proto: tcp, reals: [{address: "
     "10.0.1.1}, "
     "{address: 10.0.1.2}]}\n",
     "c.yaml:5: vips: 2 distinct reals, more than max_reals - 1 (1; id 0 is never a real)"},
    {"announce without an include", "announce:\n  bird_socket: /run/bird/bird.ctl\n",
     "c.yaml:4: announce: missing key 'include'"},
    {"announce with a relative include",
     "announce: {bird_socket: /run/bird/bird.ctl, include: vips.conf}\n",
     "c.yaml:3: announce.include: 'vips.conf' is not an absolute path"},
    {"announce with an unknown key",
     "announce: {bird_socket: /b.ctl, include: /v.conf, protocol: bgp}\n",
     "c.yaml:3: announce.protocol: unknown key (expected one of: bird_socket, include, "
     "stop_delay)"},
    {"announce stop delay too long",
     "announce: {bird_socket: /b.ctl, include: /v.conf, "
     "stop_delay: 3600}\n",
     "c.yaml:3: announce.stop_delay: 3600 is out of range (0-600)"},
    {"value missing", "conn_table_size:\n", "c.yaml:3: conn_table_size: a value is needed"},
    {"VIP address missing a value", "vips:\n  - address:\n    port: 80\n    proto: tcp\n",
     "c.yaml:4: vips[0].address: a value is needed"},
    {"empty reals is fine but null port is not",
     "vips:\n  - {address: 10.0.0.1, port: , proto: tcp, reals: }\n",
     "c.yaml:4: vips[0].port: a value is needed"},
    {"top level is a list", "!- interface\n", "c.yaml:1: expected a mapping"},
    {"YAML syntax error", "vips: [\n", "c.yaml:4: end of sequence flow not found"},
    {"empty file", "!", "c.yaml: the file is empty"},
};

class ConfigErrors : public testing::TestWithParam<BadConfig> {};

TEST_P(ConfigErrors, NamesFileLineAndReason) {
  const BadConfig& bad = GetParam();
  std::string text = bad.yaml[0] == '!'
                         ? std::string(bad.yaml + 1)
                         : std::string("interface: eth0\ngateway: 10.0.0.1\n") + bad.yaml;
  try {
    parse_config(text, "c.yaml");
    ADD_FAILURE() << bad.description << ": parsed without an error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), bad.message) << bad.description;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ConfigErrors, testing::ValuesIn(kBad), DescriptionName());

std::string error_of(const std::string& text) { return config_error(text, "c.yaml"); }

TEST(Config, DeepNestingIsAnErrorAtItsLine) {
  // yaml-cpp's depth limit is its own (500 in Debian 12's): the message names it and a line.
  const std::regex said(R"(c\.yaml:(\d+): nested deeper than \d+ levels)");
  const std::string head = "interface: eth0\ngateway: 10.0.0.1\nvips:\n";
  std::string flow = head + "  - " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  std::smatch m;
  std::string e = error_of(flow);
  EXPECT_TRUE(std::regex_match(e, m, said)) << e;
  std::string block = head;
  for (int i = 0; i < 3000; i++) block += std::string(std::size_t(i), ' ') + "- \n";
  e = error_of(block);
  ASSERT_TRUE(std::regex_match(e, m, said)) << e;
  EXPECT_GT(std::stoi(m[1]), 100) << "the line where it got too deep, not where it began";
}

TEST(Config, AnInterfaceNameWithANewlineIsRefusedNamingIt) {
  EXPECT_EQ(error_of("interface: \"eth0\\nx\"\ngateway: 10.0.0.1\n"),
            "c.yaml:1: interface: 'eth0\\x0ax' is not an interface name (1-15 printable "
            "characters, no space, '/' or ':')");
}

}  // namespace
}  // namespace dogfish
