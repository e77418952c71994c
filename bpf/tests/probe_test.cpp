// Golden-packet tests of the probe encapsulation (bpf/probe.h, tc egress): the
// balancer's own marked packets to a VIP leave encapsulated to the real their mark
// names, with the outer header the XDP program gives a client's packet; others pass.
#include <arpa/inet.h>
#include <dogfish/abi.h>
#include <dogfish/flow_hash.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include <string>

#include "balancer_harness.hpp"
#include "frames.hpp"
#include "support/packet.hpp"

namespace dogfish::testing {
namespace {

// The balancer's own address: the probes' source.
const std::string kSelf4 = "10.0.2.2", kSelf6 = "fd00:2::2";
const Mac kNextHopMac = mac("02:00:00:00:00:42");  // what the stack resolved for the VIP

constexpr uint32_t mark_of(uint32_t slot) { return DF_PROBE_MARK | slot; }

// A frame as the balancer's stack sends it towards the VIP.
Bytes syn4(const std::string& dst, uint16_t sport, uint8_t ttl = 64, uint8_t tos = 0) {
  return Packet()
      .eth(kNextHopMac, kBalancerMac)
      .ipv4({.src = kSelf4, .dst = dst, .ttl = ttl, .tos = tos, .frag_off = 0x4000})
      .tcp({.sport = sport, .dport = 80})
      .bytes();
}

Bytes syn6(const std::string& dst, uint16_t sport) {
  return Packet()
      .eth(kNextHopMac, kBalancerMac)
      .ipv6({.src = kSelf6, .dst = dst, .hop_limit = 64, .flow_label = 0x12345})
      .tcp({.sport = sport, .dport = 80})
      .bytes();
}

// What a probe (hop limit 64, traffic class 0) becomes in an IPv6 outer header to `real`.
Bytes in6_of(const Bytes& in, const df_flow_key& key, const std::string& real, uint8_t nexthdr) {
  return Packet()
      .eth(kGatewayMac, kBalancerMac)
      .ipv6({.src = outer_src6(key),
             .dst = real,
             .hop_limit = 64,
             .flow_label = df_flow_hash(&key) & 0xfffff,
             .nexthdr = nexthdr})
      .payload(strip_eth(in))
      .bytes();
}

class ProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lb_.add_probe_real(3, kReal4a);
    lb_.add_probe_real(7, kReal6a);
  }

  // Runs the frame and checks the verdict, the output and that `reason` alone was counted
  // (none for kNone).
  void expect(const Bytes& in, uint32_t mark, int verdict, const Bytes& out, int reason) {
    const df_global_stats before = lb_.global_stats();
    RunResult r = lb_.run_probe(in, mark);
    EXPECT_EQ(r.verdict, verdict);
    if (verdict != TC_ACT_SHOT) {
      std::string diff = describe_mismatch(out, r.frame);
      EXPECT_TRUE(diff.empty()) << diff;
    }
    const df_global_stats after = lb_.global_stats();
    for (int i = 0; i < DF_REASON_MAX; i++)
      EXPECT_EQ(after.reason[i] - before.reason[i], i == reason ? 1u : 0u) << "reason " << i;
  }

  static constexpr int kNone = -1;
  BalancerHarness lb_;
};

TEST_F(ProbeTest, MarkedIpv4ProbeIsEncapsulatedIpipToItsSlotsReal) {
  Bytes in = syn4(kVip4, 40000);
  expect(in, mark_of(3), TC_ACT_OK,
         ipip_of(in, flow_key(kSelf4, 40000, kVip4, 80, IPPROTO_TCP), kReal4a), DF_TX_PROBE);
}

TEST_F(ProbeTest, MarkedIpv6ProbeIsEncapsulatedIp6ip6) {
  Bytes in = syn6(kVip6, 40001);
  expect(in, mark_of(7), TC_ACT_OK,
         in6_of(in, flow_key(kSelf6, 40001, kVip6, 80, IPPROTO_TCP), kReal6a, IPPROTO_IPV6),
         DF_TX_PROBE);
}

TEST_F(ProbeTest, MarkedIpv4UdpProbeToAnIpv6RealIsIpv4InIpv6) {
  Bytes in = Packet()
                 .eth(kNextHopMac, kBalancerMac)
                 .ipv4({.src = kSelf4, .dst = kVip4, .frag_off = 0x4000})
                 .udp({.sport = 40002, .dport = 53})
                 .payload("health")
                 .bytes();
  expect(in, mark_of(7), TC_ACT_OK,
         in6_of(in, flow_key(kSelf4, 40002, kVip4, 53, IPPROTO_UDP), kReal6a, IPPROTO_IPIP),
         DF_TX_PROBE);
}

// One rule for both: the probe's outer header is the one the XDP program writes for a
// client's packet of the same 5-tuple to the same real.
TEST_F(ProbeTest, OuterHeaderIsTheDataPlanes) {
  uint32_t vip = lb_.add_vip(kVip4, 80, IPPROTO_TCP);
  lb_.add_real(1, kReal4a);
  lb_.set_ring(vip, {1});
  Bytes probe = syn4(kVip4, 40003, 61, 0x28);
  Bytes client = Packet().eth(kBalancerMac, kClientSideMac).payload(strip_eth(probe)).bytes();
  client[12] = 0x08;  // the payload is the IPv4 packet itself
  client[13] = 0x00;
  RunResult xdp = lb_.run(client);
  RunResult tc = lb_.run_probe(probe, mark_of(3));
  ASSERT_EQ(xdp.verdict, XDP_TX);
  ASSERT_EQ(tc.verdict, TC_ACT_OK);
  std::string diff = describe_mismatch(xdp.frame, tc.frame);
  EXPECT_TRUE(diff.empty()) << diff;
}

TEST_F(ProbeTest, UnmarkedPacketsPassUntouchedAndUncounted) {
  Bytes in = syn4(kVip4, 40004);
  expect(in, 0, TC_ACT_OK, in, kNone);
  expect(in, 3, TC_ACT_OK, in, kNone);  // slot bits without the probe mark
  expect(in, 0xde000003, TC_ACT_OK, in, kNone);
}

TEST_F(ProbeTest, MarkNamingNoRealIsDroppedAndCounted) {
  expect(syn4(kVip4, 40005), mark_of(5), TC_ACT_SHOT, {}, DF_DROP_PROBE_NO_REAL);
  expect(syn4(kVip4, 40006), mark_of(1 << 20), TC_ACT_SHOT, {}, DF_DROP_PROBE_NO_REAL);
}

TEST_F(ProbeTest, Ipv6ProbeToAnIpv4RealIsDropped) {
  expect(syn6(kVip6, 40007), mark_of(3), TC_ACT_SHOT, {}, DF_DROP_REAL_FAMILY);
}

TEST_F(ProbeTest, NoGatewayYetDrops) {
  lb_.update_config([](df_config& c) { c.gateway_set = 0; });
  expect(syn4(kVip4, 40008), mark_of(3), TC_ACT_SHOT, {}, DF_DROP_NO_GATEWAY);
}

}  // namespace
}  // namespace dogfish::testing
