// Golden-packet tests of bpf/balancer.bpf.c: each runs the real object through
// BPF_PROG_TEST_RUN and compares the verdict and the whole output frame.
#include <arpa/inet.h>
#include <dogfish/abi.h>
#include <dogfish/flow_hash.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <cstring>
#include <iostream>
#include <set>
#include <string>

#include "balancer_harness.hpp"
#include "frames.hpp"
#include "support/packet.hpp"

namespace dogfish::testing {
namespace {

class BalancerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vip4_ = lb_.add_vip(kVip4, 80, IPPROTO_TCP);
    lb_.add_real(1, kReal4a);
    lb_.add_real(2, kReal4b);
    lb_.add_real(3, kReal6a);
    lb_.add_real(4, kReal6b);
    lb_.set_ring(vip4_, {1});
  }

  void expect_frame(const Bytes& expected, const RunResult& r, int verdict = XDP_TX) {
    EXPECT_EQ(r.verdict, verdict);
    std::string diff = describe_mismatch(expected, r.frame);
    EXPECT_TRUE(diff.empty()) << diff;
    if (HasFailure()) {
      df_global_stats s = lb_.global_stats();
      for (int i = 0; i < DF_REASON_MAX; i++)
        if (s.reason[i]) std::cerr << "  counted reason " << i << ": " << s.reason[i] << "\n";
    }
  }

  BalancerHarness lb_;
  uint32_t vip4_ = 0;
};

TEST_F(BalancerTest, Ipv4TcpSynIsEncapsulatedIpipToTheRingsReal) {
  Bytes in = tcp4(kClient4, 40000, kVip4, 80, tcp_flags::SYN, 63, 0x10);
  auto key = flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP);
  Bytes expected = Packet()
                       .eth(kGatewayMac, kBalancerMac)
                       .ipv4({.src = outer_src4(key),
                              .dst = kReal4a,
                              .ttl = 63,
                              .tos = 0x10,
                              .frag_off = 0x4000,
                              .proto = IPPROTO_IPIP})
                       .payload(strip_eth(in))
                       .bytes();
  expect_frame(expected, lb_.run(in));
}

TEST_F(BalancerTest, Ipv6TcpToIpv6VipIsEncapsulatedIp6ip6) {
  uint32_t vip6 = lb_.add_vip(kVip6, 443, IPPROTO_TCP);
  lb_.set_ring(vip6, {3});
  Bytes in = tcp6(kClient6, 50000, kVip6, 443, tcp_flags::ACK);
  auto key = flow_key(kClient6, 50000, kVip6, 443, IPPROTO_TCP);
  expect_frame(ip6ip6_of(in, key, kReal6a), lb_.run(in));
}

TEST_F(BalancerTest, Ipv4VipToIpv6RealIsEncapsulatedIpv4InIpv6) {
  lb_.set_ring(vip4_, {4});
  Bytes in = tcp4(kClient4, 40001, kVip4, 80, tcp_flags::SYN, 50, 0xb8);
  auto key = flow_key(kClient4, 40001, kVip4, 80, IPPROTO_TCP);
  Bytes expected = Packet()
                       .eth(kGatewayMac, kBalancerMac)
                       .ipv6({.src = outer_src6(key),
                              .dst = kReal6b,
                              .hop_limit = 50,
                              .traffic_class = 0xb8,
                              .flow_label = df_flow_hash(&key) & 0xfffff,
                              .nexthdr = IPPROTO_IPIP})
                       .payload(strip_eth(in))
                       .bytes();
  expect_frame(expected, lb_.run(in));
}

TEST_F(BalancerTest, UdpToVipIsEncapsulated) {
  uint32_t vip = lb_.add_vip(kVip4, 53, IPPROTO_UDP);
  lb_.set_ring(vip, {2});
  Bytes in = udp4(kClient4, 5353, kVip4, 53);
  auto key = flow_key(kClient4, 5353, kVip4, 53, IPPROTO_UDP);
  Bytes expected =
      Packet()
          .eth(kGatewayMac, kBalancerMac)
          .ipv4({.src = outer_src4(key), .dst = kReal4b, .frag_off = 0x4000, .proto = IPPROTO_IPIP})
          .payload(strip_eth(in))
          .bytes();
  expect_frame(expected, lb_.run(in));
}

TEST_F(BalancerTest, OuterIpv4ChecksumVerifies) {
  for (uint16_t port = 1000; port < 1050; port++) {
    RunResult r = lb_.run(tcp4(kClient4, port, kVip4, 80, tcp_flags::SYN, 17, 0x44));
    ASSERT_EQ(r.verdict, XDP_TX);
    // Summing a header with its checksum in place gives all ones.
    EXPECT_EQ(ipv4_header_checksum(&r.frame[14], 20), 0) << "port " << port;
  }
}

TEST_F(BalancerTest, OuterSourceIsConstantWithinAFlowAndVariesAcrossFlows) {
  auto src_of = [](const RunResult& r) {
    return Bytes(r.frame.begin() + 26, r.frame.begin() + 30);
  };
  Bytes first = src_of(lb_.run(tcp4(kClient4, 40000, kVip4, 80, tcp_flags::SYN)));
  for (uint8_t flags : {tcp_flags::ACK, uint8_t(tcp_flags::ACK | tcp_flags::PSH), tcp_flags::ACK})
    EXPECT_EQ(src_of(lb_.run(tcp4(kClient4, 40000, kVip4, 80, flags))), first);

  std::set<Bytes> sources;
  for (uint16_t port = 2000; port < 2064; port++) {
    Bytes s = src_of(lb_.run(tcp4(kClient4, port, kVip4, 80)));
    EXPECT_EQ(s[0], 172);
    EXPECT_EQ(s[1] & 0xf0, 16) << "outer source outside 172.16.0.0/12";
    sources.insert(s);
  }
  EXPECT_GE(sources.size(), 60u) << "64 flows should (almost) all get their own outer source";
}

// Frames the balancer must hand to the stack or drop, unchanged, with a named reason.
struct Case {
  const char* name;
  Bytes frame;
  int verdict;
  df_reason reason;
};

Bytes truncate(Bytes b, size_t len) {
  b.resize(len);
  return b;
}

std::vector<Case> pass_and_drop_cases() {
  using namespace tcp_flags;
  Bytes syn4 = tcp4(kClient4, 40000, kVip4, 80);
  Bytes syn6 = tcp6(kClient6, 40000, kVip6, 443);
  Bytes udp = udp4(kClient4, 5353, kVip4, 53);
  auto opts = [](uint16_t frag_off, Bytes options, std::string dst) {
    return Packet()
        .eth(kBalancerMac, kClientSideMac)
        .ipv4({.src = kClient4, .dst = dst, .frag_off = frag_off, .options = options})
        .tcp({.sport = 1, .dport = 80})
        .bytes();
  };
  auto ext6 = [](uint8_t type, std::string dst) {
    return Packet()
        .eth(kBalancerMac, kClientSideMac)
        .ipv6({.src = kClient6, .dst = dst})
        .ipv6_ext({.type = type})
        .tcp({.sport = 1, .dport = 443})
        .bytes();
  };
  auto with_ext_type = [](Bytes b, uint8_t type) {
    b[14 + 6] = type;
    return b;
  };
  Bytes bad_ihl = syn4;
  bad_ihl[14] = 0x44;
  Bytes bad_version = syn4;
  bad_version[14] = 0x55;
  Bytes long_totlen = syn4;
  long_totlen[14 + 2] = 0x05;  // 1280+ bytes claimed, far fewer present
  Bytes short_totlen = syn4;
  short_totlen[14 + 2] = 0;
  short_totlen[14 + 3] = 30;  // less than IP + TCP headers
  Bytes arp = Packet().eth(kBalancerMac, kClientSideMac, 0x0806).payload(Bytes(28, 0)).bytes();
  Bytes icmp = Packet()
                   .eth(kBalancerMac, kClientSideMac)
                   .ipv4({.src = kClient4, .dst = kVip4, .proto = IPPROTO_ICMP})
                   .payload(Bytes(8, 0))
                   .bytes();

  return {
      {"non_ip_passes", arp, XDP_PASS, DF_PASS_NOT_IP},
      {"non_vip_address_passes", tcp4(kClient4, 1, "10.9.9.9", 80), XDP_PASS, DF_PASS_NOT_VIP},
      {"vip_with_unknown_port_passes", tcp4(kClient4, 1, kVip4, 8080), XDP_PASS, DF_PASS_NOT_VIP},
      {"vip_with_other_protocol_passes", udp4(kClient4, 1, kVip4, 80), XDP_PASS, DF_PASS_NOT_VIP},
      {"icmp_to_vip_passes", icmp, XDP_PASS, DF_PASS_L4_PROTO},
      {"truncated_eth_only", truncate(syn4, 14), XDP_PASS, DF_PASS_TRUNCATED},
      {"truncated_ipv4", truncate(syn4, 14 + 19), XDP_PASS, DF_PASS_TRUNCATED},
      {"truncated_ipv6", truncate(syn6, 14 + 39), XDP_PASS, DF_PASS_TRUNCATED},
      {"truncated_tcp_to_vip", truncate(syn4, 14 + 20 + 19), XDP_DROP, DF_DROP_TRUNCATED_L4},
      {"truncated_tcp_at_ip_end", truncate(syn4, 14 + 20), XDP_DROP, DF_DROP_TRUNCATED_L4},
      {"truncated_udp_to_vip", truncate(udp, 14 + 20 + 7), XDP_DROP, DF_DROP_TRUNCATED_L4},
      {"truncated_tcp6_to_vip", truncate(syn6, 14 + 40 + 10), XDP_DROP, DF_DROP_TRUNCATED_L4},
      {"truncated_tcp_to_non_vip", truncate(tcp4(kClient4, 1, "10.9.9.9", 80), 14 + 20 + 10),
       XDP_PASS, DF_PASS_NOT_VIP},
      {"ipv4_options_to_vip", opts(0, {1, 1, 1, 0}, kVip4), XDP_DROP, DF_DROP_IP_OPTIONS},
      {"ipv4_options_to_non_vip", opts(0, {1, 1, 1, 0}, "10.9.9.9"), XDP_PASS, DF_PASS_NOT_VIP},
      {"ipv4_first_fragment_to_vip", opts(0x2000, {}, kVip4), XDP_DROP, DF_DROP_FRAGMENT},
      {"ipv4_later_fragment_to_vip", opts(0x00b9, {}, kVip4), XDP_DROP, DF_DROP_FRAGMENT},
      {"ipv4_fragment_to_non_vip", opts(0x2000, {}, "10.9.9.9"), XDP_PASS, DF_PASS_NOT_VIP},
      {"ipv4_ihl_below_5_to_vip", bad_ihl, XDP_DROP, DF_DROP_BAD_L3},
      {"ipv4_bad_version_to_vip", bad_version, XDP_DROP, DF_DROP_BAD_L3},
      {"ipv4_total_length_beyond_frame", long_totlen, XDP_DROP, DF_DROP_BAD_L3},
      {"ipv4_total_length_below_headers", short_totlen, XDP_DROP, DF_DROP_BAD_L3},
      {"ipv6_fragment_header_to_vip", ext6(IPPROTO_FRAGMENT, kVip6), XDP_DROP, DF_DROP_FRAGMENT},
      {"ipv6_hop_by_hop_to_vip", ext6(IPPROTO_HOPOPTS, kVip6), XDP_DROP, DF_DROP_IPV6_EXT},
      {"ipv6_routing_to_vip", ext6(IPPROTO_ROUTING, kVip6), XDP_DROP, DF_DROP_IPV6_EXT},
      {"ipv6_dest_opts_to_vip", with_ext_type(ext6(IPPROTO_DSTOPTS, kVip6), IPPROTO_DSTOPTS),
       XDP_DROP, DF_DROP_IPV6_EXT},
      {"ipv6_ext_to_non_vip", ext6(IPPROTO_HOPOPTS, "fd00:9::9"), XDP_PASS, DF_PASS_NOT_VIP},
      {"tcp_no_flags_to_vip", tcp4(kClient4, 1, kVip4, 80, 0), XDP_DROP, DF_DROP_TCP_FLAGS},
      {"tcp_syn_fin_to_vip", tcp4(kClient4, 1, kVip4, 80, SYN | FIN), XDP_DROP, DF_DROP_TCP_FLAGS},
      {"tcp_syn_rst_to_vip", tcp4(kClient4, 1, kVip4, 80, SYN | RST), XDP_DROP, DF_DROP_TCP_FLAGS},
      {"tcp_fin_without_ack_to_vip", tcp4(kClient4, 1, kVip4, 80, FIN), XDP_DROP,
       DF_DROP_TCP_FLAGS},
      {"tcp_xmas_to_vip", tcp4(kClient4, 1, kVip4, 80, FIN | PSH | URG), XDP_DROP,
       DF_DROP_TCP_FLAGS},
      {"tcp6_syn_fin_to_vip", tcp6(kClient6, 1, kVip6, 443, SYN | FIN), XDP_DROP,
       DF_DROP_TCP_FLAGS},
      {"tcp_bad_flags_to_non_vip_port", tcp4(kClient4, 1, kVip4, 8080, SYN | FIN), XDP_PASS,
       DF_PASS_NOT_VIP},
  };
}

class PassAndDrop : public ::testing::TestWithParam<Case> {};

TEST_P(PassAndDrop, LeavesFrameUntouchedWithItsReason) {
  const Case& c = GetParam();
  BalancerHarness lb;
  lb.add_real(1, kReal4a);
  lb.add_real(3, kReal6a);
  lb.set_ring(lb.add_vip(kVip4, 80, IPPROTO_TCP), {1});
  lb.set_ring(lb.add_vip(kVip4, 53, IPPROTO_UDP), {1});
  lb.set_ring(lb.add_vip(kVip6, 443, IPPROTO_TCP), {3});
  expect_untouched(lb, c.frame, c.verdict, c.reason);
}

INSTANTIATE_TEST_SUITE_P(Frames, PassAndDrop, ::testing::ValuesIn(pass_and_drop_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(BalancerTest, EveryFlagSetAConnectionSendsIsBalanced) {
  using namespace tcp_flags;
  const uint8_t sets[] = {SYN,       SYN | ECE | CWR, SYN | ACK, ACK,       ACK | PSH, ACK | URG,
                          FIN | ACK, FIN | ACK | PSH, RST,       RST | ACK, ACK | ECE, ACK | CWR};
  for (uint8_t flags : sets)
    EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, flags))), kReal4a)
        << "flags " << int(flags);
  EXPECT_EQ(lb_.global_stats().reason[DF_TX], std::size(sets));
}

TEST_F(BalancerTest, EstablishedFlowKeepsItsRealWhenTheRingChangesButASynRehashes) {
  using namespace tcp_flags;
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, SYN, 64, 0, 1000))), kReal4a);
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, ACK, 64, 0, 1001))), kReal4a);
  lb_.set_ring(vip4_, {2});
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, ACK, 64, 0, 1500))), kReal4a);
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40001, kVip4, 80, ACK))), kReal4b)
      << "a flow the table doesn't know follows the new ring";
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, SYN, 64, 0, 9000))), kReal4b);
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, ACK, 64, 0, 9001))), kReal4b)
      << "the handshake of a reused tuple replaces its old entry";
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, ACK, 64, 0, 9500))), kReal4b);
}

TEST_F(BalancerTest, FlowOfADeletedRealMovesToTheRing) {
  lb_.run(tcp4(kClient4, 40000, kVip4, 80, tcp_flags::SYN, 64, 0, 1000));
  lb_.run(tcp4(kClient4, 40000, kVip4, 80, tcp_flags::ACK, 64, 0, 1001));
  ASSERT_EQ(lb_.conn_count(), 1u);
  lb_.set_ring(vip4_, {2});
  lb_.remove_real(1);
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, tcp_flags::ACK))), kReal4b);
}

TEST_F(BalancerTest, NoConnTableVipAlwaysHashesAndRemembersNothing) {
  uint32_t vip = lb_.add_vip(kVip4, 8080, IPPROTO_TCP, DF_VIP_NO_CONN_TABLE);
  lb_.set_ring(vip, {1});
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 8080, tcp_flags::SYN))), kReal4a);
  lb_.set_ring(vip, {2});
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 8080, tcp_flags::ACK))), kReal4b);
  EXPECT_EQ(lb_.conn_count(), 0u);
  df_global_stats s = lb_.global_stats();
  EXPECT_EQ(s.conn_hit + s.conn_miss, 0u);
  EXPECT_EQ(s.hash_decisions, 2u);
}

TEST_F(BalancerTest, SourceOnlyHashSendsEveryPortOfAClientToOneReal) {
  uint32_t sticky = lb_.add_vip(kVip4, 8443, IPPROTO_TCP, DF_VIP_SRC_HASH_ONLY);
  lb_.set_ring(sticky, {1, 2});
  lb_.set_ring(vip4_, {1, 2});
  std::set<std::string> sticky_reals, spread_reals;
  for (uint16_t port = 30000; port < 30040; port++) {
    sticky_reals.insert(outer_dst(lb_.run(tcp4(kClient4, port, kVip4, 8443))));
    spread_reals.insert(outer_dst(lb_.run(tcp4(kClient4, port, kVip4, 80))));
  }
  EXPECT_EQ(sticky_reals.size(), 1u);
  EXPECT_EQ(spread_reals.size(), 2u) << "without the flag, ports spread over both reals";
  std::set<std::string> clients;
  for (int c = 1; c < 40; c++)
    clients.insert(outer_dst(lb_.run(tcp4("10.0.1." + std::to_string(c), 1234, kVip4, 8443))));
  EXPECT_EQ(clients.size(), 2u) << "different clients still spread";
}

TEST_F(BalancerTest, StatsMoveByExactlyTheExpectedAmounts) {
  Bytes syn = tcp4(kClient4, 40000, kVip4, 80, tcp_flags::SYN, 64, 0, 1000);
  Bytes ack = tcp4(kClient4, 40000, kVip4, 80, tcp_flags::ACK, 64, 0, 1001);
  Bytes other = tcp4(kClient4, 40001, kVip4, 80, tcp_flags::ACK);
  lb_.run(syn);                                // SYN: no lookup, a hash decision
  lb_.run(ack);                                // miss that answers the SYN: proven, inserted
  lb_.run(ack);                                // hit
  lb_.run(other);                              // miss, hash decision, inserted
  lb_.run(tcp4(kClient4, 1, "10.9.9.9", 80));  // not a VIP

  df_global_stats s = lb_.global_stats();
  EXPECT_EQ(s.reason[DF_TX], 4u);
  EXPECT_EQ(s.reason[DF_PASS_NOT_VIP], 1u);
  EXPECT_EQ(s.conn_hit, 1u);
  EXPECT_EQ(s.conn_miss, 2u);
  EXPECT_EQ(s.hash_decisions, 2u);
  EXPECT_EQ(s.conn_proven, 1u);
  EXPECT_EQ(s.conn_inserted, 2u);
  EXPECT_EQ(s.conn_skipped, 0u);
  EXPECT_EQ(s.conn_replaced, 0u);
  EXPECT_EQ(s.conn_expired, 0u);
  df_counter v = lb_.vip_stats(vip4_);
  EXPECT_EQ(v.packets, 4u);
  EXPECT_EQ(v.bytes, syn.size() * 4);
  df_counter r1 = lb_.real_stats(1);
  EXPECT_EQ(r1.packets, 4u);
  EXPECT_EQ(r1.bytes, syn.size() * 4);
  EXPECT_EQ(lb_.real_stats(2).packets, 0u);
}

TEST_F(BalancerTest, ARealOfTwoVipsIsCountedPerVip) {
  uint32_t other = lb_.add_vip(kVip4, 8080, IPPROTO_TCP);
  lb_.set_ring(vip4_, {1});
  lb_.set_ring(other, {1});
  Bytes to_80 = tcp4(kClient4, 40000, kVip4, 80);
  Bytes to_8080 = tcp4(kClient4, 40000, kVip4, 8080);
  for (int i = 0; i < 3; i++) lb_.run(to_80);
  for (int i = 0; i < 2; i++) lb_.run(to_8080);
  lb_.run(tcp4(kClient4, 40000, "10.9.9.9", 80));  // not a VIP: nobody's

  df_counter a = lb_.vip_real_stats(vip4_, 1), b = lb_.vip_real_stats(other, 1);
  EXPECT_EQ(a.packets, 3u);
  EXPECT_EQ(a.bytes, to_80.size() * 3);
  EXPECT_EQ(b.packets, 2u);
  EXPECT_EQ(b.bytes, to_8080.size() * 2);
  EXPECT_EQ(lb_.real_stats(1).packets, a.packets + b.packets) << "the real's own sums its VIPs'";
  EXPECT_EQ(lb_.vip_real_stats(vip4_, 2).packets, 0u);
  EXPECT_EQ(lb_.vip_real_stats(other, 2).packets, 0u);
}

// icmp_test.cpp has the too-big answers byte by byte.
TEST_F(BalancerTest, OversizePacketIsAnsweredAndOneAtTheLimitIsSent) {
  Bytes in = tcp4(kClient4, 40000, kVip4, 80);
  uint32_t outer_len = in.size() - 14 + 20;
  lb_.update_config([&](df_config& c) { c.max_pkt_size = outer_len; });
  EXPECT_EQ(outer_dst(lb_.run(in)), kReal4a);
  lb_.update_config([&](df_config& c) { c.max_pkt_size = outer_len - 1; });
  RunResult r = lb_.run(in);
  EXPECT_EQ(r.verdict, XDP_TX);
  EXPECT_EQ(lb_.global_stats().reason[DF_TX_ICMP_TOO_BIG], 1u);
  EXPECT_EQ(lb_.global_stats().reason[DF_TX], 1u);
}

TEST_F(BalancerTest, OversizeCountsTheIpv6OuterHeader) {
  lb_.set_ring(vip4_, {3});
  Bytes in = tcp4(kClient4, 40000, kVip4, 80);
  lb_.update_config([&](df_config& c) { c.max_pkt_size = in.size() - 14 + 39; });
  lb_.run(in);
  EXPECT_EQ(lb_.global_stats().reason[DF_TX_ICMP_TOO_BIG], 1u);
  lb_.update_config([&](df_config& c) { c.max_pkt_size = in.size() - 14 + 40; });
  EXPECT_EQ(outer_dst(lb_.run(in)), kReal6a);
}

TEST_F(BalancerTest, UdpEntryExpiresAfterItsIdleTime) {
  uint32_t vip = lb_.add_vip(kVip4, 53, IPPROTO_UDP);
  lb_.set_ring(vip, {1});
  lb_.update_config([&](df_config& c) { c.udp_idle_ticks = 100; });  // ~1.7 s
  Bytes dgram = udp4(kClient4, 5353, kVip4, 53);
  ASSERT_EQ(outer_dst(lb_.run(dgram)), kReal4a);
  lb_.set_ring(vip, {2});
  EXPECT_EQ(outer_dst(lb_.run(dgram)), kReal4a) << "a fresh entry holds";

  auto key = flow_key(kClient4, 5353, kVip4, 53, IPPROTO_UDP);
  df_conn c{};
  ASSERT_TRUE(lb_.conn_lookup(key, &c));
  EXPECT_EQ(c.real_id, 1u);
  c.atime -= 101;  // as if last seen 101 ticks ago
  lb_.conn_update(key, c);
  EXPECT_EQ(outer_dst(lb_.run(dgram)), kReal4b) << "an idle entry re-hashes";
  EXPECT_EQ(lb_.global_stats().conn_expired, 1u);
  ASSERT_TRUE(lb_.conn_lookup(key, &c));
  EXPECT_EQ(c.real_id, 2u);
}

TEST_F(BalancerTest, TcpEntriesDoNotExpire) {
  lb_.update_config([&](df_config& c) { c.udp_idle_ticks = 1; });
  lb_.run(tcp4(kClient4, 40000, kVip4, 80, tcp_flags::ACK));
  auto key = flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP);
  df_conn c{};
  ASSERT_TRUE(lb_.conn_lookup(key, &c));
  c.atime -= 1000;
  lb_.conn_update(key, c);
  lb_.set_ring(vip4_, {2});
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, tcp_flags::ACK))), kReal4a);
}

TEST_F(BalancerTest, EmptyRingDropsAsNoReal) {
  lb_.set_ring(vip4_, {});
  Bytes in = tcp4(kClient4, 40000, kVip4, 80);
  expect_frame(in, lb_.run(in), XDP_DROP);
  EXPECT_EQ(lb_.global_stats().reason[DF_DROP_NO_REAL], 1u);
}

TEST_F(BalancerTest, Ipv6VipWithIpv4RealIsDropped) {
  uint32_t vip6 = lb_.add_vip(kVip6, 443, IPPROTO_TCP);
  lb_.set_ring(vip6, {1});
  Bytes in = tcp6(kClient6, 1, kVip6, 443);
  expect_frame(in, lb_.run(in), XDP_DROP);
  EXPECT_EQ(lb_.global_stats().reason[DF_DROP_REAL_FAMILY], 1u);
}

TEST_F(BalancerTest, NothingIsSentBeforeTheGatewayIsKnown) {
  lb_.update_config([&](df_config& c) { c.gateway_set = 0; });
  Bytes in = tcp4(kClient4, 40000, kVip4, 80);
  expect_frame(in, lb_.run(in), XDP_DROP);
  EXPECT_EQ(lb_.global_stats().reason[DF_DROP_NO_GATEWAY], 1u);
}

TEST_F(BalancerTest, RingSpreadsFlowsOverItsReals) {
  lb_.set_ring(vip4_, {1, 2});
  int to_a = 0;
  const int flows = 400;
  for (int i = 0; i < flows; i++)
    to_a += outer_dst(lb_.run(tcp4(kClient4, 10000 + i, kVip4, 80))) == kReal4a;
  EXPECT_GT(to_a, flows * 35 / 100);
  EXPECT_LT(to_a, flows * 65 / 100);
}

}  // namespace
}  // namespace dogfish::testing
