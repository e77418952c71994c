// Golden-packet tests of GUE encapsulation (bpf/encap.h, DF_ENCAP_GUE): a GUE real's packets
// leave in an outer IP header and a UDP header to the GUE port, the inner packet right after
// it (GUE variant 1, direct IP), from the XDP program and from the probes' tc program alike.
// The expected frames are built by the test's packet builder, which sums the whole datagram
// for the UDP checksum: the program's sum from headers alone must come out the same.
#include <arpa/inet.h>
#include <dogfish/abi.h>
#include <dogfish/flow_hash.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include <set>
#include <string>

#include "balancer_harness.hpp"
#include "frames.hpp"
#include "support/packet.hpp"

namespace dogfish::testing {
namespace {

constexpr uint16_t kGuePort = DF_DEFAULT_GUE_PORT;  // the harness's
constexpr uint32_t kUdpHeader = 8;

// The UDP source port of a flow's GUE packets: the hash's top 14 bits, in 49152-65535.
uint16_t gue_sport(const df_flow_key& key) { return 0xc000 | (df_flow_hash(&key) >> 18); }

// The inner packet's TTL (hop limit) and TOS (traffic class), which the outer header copies.
uint8_t inner_ttl(const Bytes& in) { return in[12] == 0x86 ? in[21] : in[22]; }
uint8_t inner_tos(const Bytes& in) {
  return in[12] == 0x86 ? uint8_t((in[14] << 4) | (in[15] >> 4)) : in[15];
}

// What the balancer sends for frame `in` of flow `key` to the GUE real `real`: over IPv4
// without a UDP checksum; over IPv6 with the one the builder computes, unless `v6_checksum`
// is false (the inner packet gives none to build on).
Bytes gue_of(const Bytes& in, const df_flow_key& key, const std::string& real,
             bool v6_checksum = true) {
  Packet p;
  p.eth(kGatewayMac, kBalancerMac);
  if (real.find(':') != std::string::npos)
    p.ipv6({.src = outer_src6(key),
            .dst = real,
            .hop_limit = inner_ttl(in),
            .traffic_class = inner_tos(in),
            .flow_label = df_flow_hash(&key) & 0xfffff});
  else
    p.ipv4({.src = outer_src4(key),
            .dst = real,
            .ttl = inner_ttl(in),
            .tos = inner_tos(in),
            .frag_off = 0x4000});
  const bool v6 = real.find(':') != std::string::npos;
  return p.udp({.sport = gue_sport(key), .dport = kGuePort, .checksum = v6 && v6_checksum})
      .payload(strip_eth(in))
      .bytes();
}

// The outer UDP header's checksum field of an IPv6 GUE frame.
uint16_t udp6_check(const Bytes& frame) { return frame[14 + 40 + 6] << 8 | frame[14 + 40 + 7]; }

Bytes udp6(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
           const std::string& body, bool checksum = true) {
  return Packet()
      .eth(kBalancerMac, kClientSideMac)
      .ipv6({.src = src, .dst = dst, .hop_limit = 60})
      .udp({.sport = sport, .dport = dport, .checksum = checksum})
      .payload(body)
      .bytes();
}

class GueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vip4_ = lb_.add_vip(kVip4, 80, IPPROTO_TCP);
    vip6_ = lb_.add_vip(kVip6, 443, IPPROTO_TCP);
    lb_.add_real(1, kReal4a, DF_ENCAP_GUE);
    lb_.add_real(2, kReal4b, DF_ENCAP_IPIP);
    lb_.add_real(3, kReal6a, DF_ENCAP_GUE);
    lb_.add_real(4, kReal6b, DF_ENCAP_IPIP);
    lb_.set_ring(vip4_, {1});
    lb_.set_ring(vip6_, {3});
  }

  void expect_frame(const Bytes& expected, const RunResult& r, int verdict = XDP_TX) {
    EXPECT_EQ(r.verdict, verdict);
    std::string diff = describe_mismatch(expected, r.frame);
    EXPECT_TRUE(diff.empty()) << diff;
  }

  BalancerHarness lb_;
  uint32_t vip4_ = 0, vip6_ = 0;
};

TEST_F(GueTest, Ipv4InIpv4IsUdpToTheGuePortWithoutAChecksum) {
  Bytes in = tcp4(kClient4, 40000, kVip4, 80, tcp_flags::SYN, 63, 0x10);
  auto key = flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP);
  RunResult r = lb_.run(in);
  expect_frame(gue_of(in, key, kReal4a), r);
  // GUE direct IP: the UDP payload is the inner IPv4 header, first nibble 4.
  EXPECT_EQ(r.frame[14 + 20 + kUdpHeader] >> 4, 4);
  EXPECT_EQ(lb_.global_stats().reason[DF_TX], 1u);
}

TEST_F(GueTest, Ipv6InIpv6CarriesAChecksumOverTheWholeDatagram) {
  Bytes in = tcp6(kClient6, 50000, kVip6, 443, tcp_flags::ACK);
  auto key = flow_key(kClient6, 50000, kVip6, 443, IPPROTO_TCP);
  RunResult r = lb_.run(in);
  expect_frame(gue_of(in, key, kReal6a), r);
  EXPECT_NE(udp6_check(r.frame), 0) << "IPv6 GUE from a TCP segment carries a checksum";
  EXPECT_EQ(r.frame[14 + 40 + kUdpHeader] >> 4, 6);
}

TEST_F(GueTest, Ipv4InIpv6CarriesAChecksum) {
  lb_.set_ring(vip4_, {3});
  Bytes in = tcp4(kClient4, 40001, kVip4, 80, tcp_flags::SYN, 50, 0xb8);
  auto key = flow_key(kClient4, 40001, kVip4, 80, IPPROTO_TCP);
  RunResult r = lb_.run(in);
  expect_frame(gue_of(in, key, kReal6a), r);
  EXPECT_NE(udp6_check(r.frame), 0);
}

// Every length of payload (odd ones end the datagram in half a word), both inner families,
// TCP and UDP: the sum from headers is the sum of the bytes.
TEST_F(GueTest, ChecksumHoldsForEveryPayloadLengthAndFlow) {
  uint32_t udp4_vip = lb_.add_vip(kVip4, 53, IPPROTO_UDP);
  uint32_t udp6_vip = lb_.add_vip(kVip6, 53, IPPROTO_UDP);
  for (uint32_t vip : {vip4_, udp4_vip, udp6_vip}) lb_.set_ring(vip, {3});
  for (uint16_t n = 0; n < 40; n++) {
    const std::string body(n, char('a' + n % 26));
    const uint16_t port = 20000 + n;
    SCOPED_TRACE("payload " + std::to_string(n));
    Bytes t4 = Packet()
                   .eth(kBalancerMac, kClientSideMac)
                   .ipv4({.src = kClient4, .dst = kVip4, .frag_off = 0x4000})
                   .tcp({.sport = port, .dport = 80, .flags = tcp_flags::ACK, .seq = 7u * n})
                   .payload(body)
                   .bytes();
    expect_frame(gue_of(t4, flow_key(kClient4, port, kVip4, 80, IPPROTO_TCP), kReal6a),
                 lb_.run(t4));
    Bytes u4 = udp4(kClient4, port, kVip4, 53, body);
    expect_frame(gue_of(u4, flow_key(kClient4, port, kVip4, 53, IPPROTO_UDP), kReal6a),
                 lb_.run(u4));
    Bytes u6 = udp6(kClient6, port, kVip6, 53, body);
    expect_frame(gue_of(u6, flow_key(kClient6, port, kVip6, 53, IPPROTO_UDP), kReal6a),
                 lb_.run(u6));
    Bytes t6 = tcp6(kClient6, port, kVip6, 443, tcp_flags::ACK, 9u * n);
    expect_frame(gue_of(t6, flow_key(kClient6, port, kVip6, 443, IPPROTO_TCP), kReal6a),
                 lb_.run(t6));
  }
}

// UDP over IPv4 may go without a checksum; nothing then sums its payload but reading it all,
// and a tunnel over IPv6 may send none (RFC 6935): the outer datagram goes without one too.
TEST_F(GueTest, UdpWithoutAChecksumGoesInAnIpv6DatagramWithoutOne) {
  uint32_t vip = lb_.add_vip(kVip4, 53, IPPROTO_UDP);
  lb_.set_ring(vip, {3});
  Bytes in = Packet()
                 .eth(kBalancerMac, kClientSideMac)
                 .ipv4({.src = kClient4, .dst = kVip4})
                 .udp({.sport = 5353, .dport = 53, .checksum = false})
                 .payload("no checksum")
                 .bytes();
  RunResult r = lb_.run(in);
  expect_frame(gue_of(in, flow_key(kClient4, 5353, kVip4, 53, IPPROTO_UDP), kReal6a, false), r);
  EXPECT_EQ(udp6_check(r.frame), 0);
}

// An ICMP error about a VIP's flow goes to the flow's real: ICMPv4 sums to zero by its own
// checksum, ICMPv6 to its pseudo-header's complement, as TCP and UDP do.
TEST_F(GueTest, IcmpErrorsToAGueRealCarryAChecksum) {
  const std::string router4 = "10.9.9.9", router6 = "fd00:9::9";
  // The real's reply (DSR) that a router quotes, from the VIP to the client.
  Bytes reply4 = l3_of(Packet()
                           .eth(kBalancerMac, kClientSideMac)
                           .ipv4({.src = kVip4, .dst = kClient4, .frag_off = 0x4000})
                           .tcp({.sport = 80, .dport = 40000, .flags = tcp_flags::ACK})
                           .bytes());
  Bytes reply6 = l3_of(Packet()
                           .eth(kBalancerMac, kClientSideMac)
                           .ipv6({.src = kVip6, .dst = kClient6})
                           .tcp({.sport = 443, .dport = 40000, .flags = tcp_flags::ACK})
                           .bytes());
  lb_.set_ring(vip4_, {3});
  Bytes e4 = Packet()
                 .eth(kBalancerMac, kClientSideMac)
                 .ipv4({.src = router4, .dst = kVip4, .ttl = 63})
                 .icmp({.type = 3, .code = 4, .rest = 1400})
                 .payload(reply4)
                 .bytes();
  RunResult r = lb_.run(e4);
  expect_frame(gue_of(e4, flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP), kReal6a), r);
  EXPECT_NE(udp6_check(r.frame), 0);
  Bytes e6 = Packet()
                 .eth(kBalancerMac, kClientSideMac)
                 .ipv6({.src = router6, .dst = kVip6, .hop_limit = 63})
                 .icmp({.type = 2, .rest = 1400})
                 .payload(reply6)
                 .bytes();
  r = lb_.run(e6);
  expect_frame(gue_of(e6, flow_key(kClient6, 40000, kVip6, 443, IPPROTO_TCP), kReal6a), r);
  EXPECT_NE(udp6_check(r.frame), 0);
  EXPECT_EQ(lb_.global_stats().reason[DF_TX_ICMP_ERROR], 2u);
}

TEST_F(GueTest, SourcePortStaysWithinAFlowAndSpreadsAcrossFlows) {
  auto sport = [](const RunResult& r) { return uint16_t(r.frame[34] << 8 | r.frame[35]); };
  const uint16_t first = sport(lb_.run(tcp4(kClient4, 40000, kVip4, 80, tcp_flags::SYN)));
  for (uint8_t flags : {tcp_flags::ACK, uint8_t(tcp_flags::ACK | tcp_flags::PSH), tcp_flags::ACK})
    EXPECT_EQ(sport(lb_.run(tcp4(kClient4, 40000, kVip4, 80, flags))), first);
  std::set<uint16_t> ports;
  for (uint16_t p = 1000; p < 1064; p++) {
    const uint16_t s = sport(lb_.run(tcp4(kClient4, p, kVip4, 80, tcp_flags::SYN)));
    EXPECT_GE(s, 0xc000) << "in the dynamic range";
    ports.insert(s);
  }
  EXPECT_GE(ports.size(), 60u) << "64 flows, 16384 ports: few collisions";
}

// A VIP's reals each keep their own encapsulation; a real's change takes the next packet.
TEST_F(GueTest, EachRealHasItsOwnEncapsulation) {
  lb_.set_ring(vip4_, {2});
  Bytes in = tcp4(kClient4, 40000, kVip4, 80);
  auto key = flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP);
  expect_frame(ipip_of(in, key, kReal4b), lb_.run(in));
  lb_.add_real(2, kReal4b, DF_ENCAP_GUE);
  expect_frame(gue_of(in, key, kReal4b), lb_.run(in));
  lb_.add_real(2, kReal4b, DF_ENCAP_IPIP);
  expect_frame(ipip_of(in, key, kReal4b), lb_.run(in));
}

TEST_F(GueTest, OutboundPortIsTheConfiguredOne) {
  lb_.update_config([](df_config& c) { c.gue_port = htons(5555); });
  RunResult r = lb_.run(tcp4(kClient4, 40000, kVip4, 80));
  ASSERT_EQ(r.verdict, XDP_TX);
  EXPECT_EQ(r.frame[36] << 8 | r.frame[37], 5555);
}

// The too-big limit counts the UDP header too: 28 bytes over IPv4, 48 over IPv6.
TEST_F(GueTest, TooBigCountsTheUdpHeader) {
  struct Case {
    uint32_t ring;
    uint32_t overhead;
  };
  for (const Case& c : {Case{1, 28}, Case{3, 48}}) {  // a flow each: the table keeps its real
    SCOPED_TRACE("overhead " + std::to_string(c.overhead));
    lb_.set_ring(vip4_, {c.ring});
    Bytes in = Packet()
                   .eth(kBalancerMac, kClientSideMac)
                   .ipv4({.src = kClient4, .dst = kVip4, .frag_off = 0x4000})
                   .tcp({.sport = uint16_t(40000 + c.ring), .dport = 80, .flags = tcp_flags::ACK})
                   .payload(std::string(1000, 'x'))
                   .bytes();
    const uint32_t outer = in.size() - 14 + c.overhead;
    lb_.update_config([&](df_config& cfg) { cfg.max_pkt_size = outer; });
    RunResult sent = lb_.run(in);
    ASSERT_EQ(sent.verdict, XDP_TX);
    EXPECT_EQ(sent.frame.size(), 14 + outer);
    lb_.update_config([&](df_config& cfg) { cfg.max_pkt_size = outer - 1; });
    const df_global_stats before = lb_.global_stats();
    RunResult answer = lb_.run(in);
    ASSERT_EQ(answer.verdict, XDP_TX);
    EXPECT_EQ(lb_.global_stats().reason[DF_TX_ICMP_TOO_BIG] - before.reason[DF_TX_ICMP_TOO_BIG],
              1u);
    // Fragmentation needed names the MTU at which the inner packet fits: the limit less both.
    EXPECT_EQ(answer.frame[14 + 20 + 6] << 8 | answer.frame[14 + 20 + 7],
              int(outer - 1 - c.overhead));
  }
}

// ---------------------------------------------------------------- the probes' tc program

const std::string kSelf4 = "10.0.2.2", kSelf6 = "fd00:2::2";
constexpr uint32_t mark_of(uint32_t slot) { return DF_PROBE_MARK | slot; }

TEST_F(GueTest, ProbeToAGueRealIsEncapsulatedAsAClientsPacket) {
  lb_.add_probe_real(5, kReal4a, DF_ENCAP_GUE);
  lb_.add_probe_real(6, kReal6a, DF_ENCAP_GUE);
  const Mac next_hop = mac("02:00:00:00:00:42");
  Bytes syn4 = Packet()
                   .eth(next_hop, kBalancerMac)
                   .ipv4({.src = kSelf4, .dst = kVip4, .frag_off = 0x4000})
                   .tcp({.sport = 41000, .dport = 80})
                   .bytes();
  Bytes syn6 = Packet()
                   .eth(next_hop, kBalancerMac)
                   .ipv6({.src = kSelf6, .dst = kVip6})
                   .tcp({.sport = 41001, .dport = 443})
                   .bytes();
  struct Case {
    Bytes in;
    uint32_t slot;
    df_flow_key key;
    std::string real;
  };
  for (const Case& c : {Case{syn4, 5, flow_key(kSelf4, 41000, kVip4, 80, IPPROTO_TCP), kReal4a},
                        Case{syn4, 6, flow_key(kSelf4, 41000, kVip4, 80, IPPROTO_TCP), kReal6a},
                        Case{syn6, 6, flow_key(kSelf6, 41001, kVip6, 443, IPPROTO_TCP), kReal6a}}) {
    SCOPED_TRACE(c.real);
    RunResult r = lb_.run_probe(c.in, mark_of(c.slot));
    EXPECT_EQ(r.verdict, TC_ACT_OK);
    std::string diff = describe_mismatch(gue_of(c.in, c.key, c.real), r.frame);
    EXPECT_TRUE(diff.empty()) << diff;
  }
  EXPECT_EQ(lb_.global_stats().reason[DF_TX_PROBE], 3u);
}

TEST_F(GueTest, ProbeTooBigCountsTheUdpHeader) {
  lb_.add_probe_real(5, kReal4a, DF_ENCAP_GUE);
  Bytes in = Packet()
                 .eth(kClientSideMac, kBalancerMac)
                 .ipv4({.src = kSelf4, .dst = kVip4, .frag_off = 0x4000})
                 .tcp({.sport = 41000, .dport = 80})
                 .bytes();
  lb_.update_config([&](df_config& c) { c.max_pkt_size = in.size() - 14 + 27; });
  EXPECT_EQ(lb_.run_probe(in, mark_of(5)).verdict, TC_ACT_SHOT);
  EXPECT_EQ(lb_.global_stats().reason[DF_DROP_TOO_BIG], 1u);
  lb_.update_config([&](df_config& c) { c.max_pkt_size = in.size() - 14 + 28; });
  EXPECT_EQ(lb_.run_probe(in, mark_of(5)).verdict, TC_ACT_OK);
}

}  // namespace
}  // namespace dogfish::testing
