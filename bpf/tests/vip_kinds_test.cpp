// Golden tests of VIP kinds and hash choices: any-port VIPs (port DF_VIP_ANY_PORT: an
// address and a protocol, every destination port), the rule that an exact VIP wins over an
// any-port one, and the per-VIP flags that choose what the ring is hashed on.
#include <dogfish/abi.h>
#include <dogfish/flow_hash.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <set>
#include <string>
#include <vector>

#include "balancer_harness.hpp"
#include "frames.hpp"
#include "support/packet.hpp"

namespace dogfish::testing {
namespace {

using namespace tcp_flags;

class VipKindsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    exact_ = add_tcp80_two_reals(lb_);  // kVip4:80/tcp, ring all real 1
    any_ = lb_.add_vip(kVip4, DF_VIP_ANY_PORT, IPPROTO_TCP);
    lb_.set_ring(any_, {2});
  }

  BalancerHarness lb_;
  uint32_t exact_ = 0, any_ = 0;
};

TEST_F(VipKindsTest, AnyPortVipTakesEveryOtherPortOfItsAddressAndProtocol) {
  for (uint16_t port : {1, 81, 443, 8080, 65535}) {
    SCOPED_TRACE(port);
    Bytes in = tcp4(kClient4, 40000, kVip4, port, SYN);
    RunResult r = lb_.run(in);
    EXPECT_EQ(r.verdict, XDP_TX);
    std::string diff = describe_mismatch(
        ipip_of(in, flow_key(kClient4, 40000, kVip4, port, IPPROTO_TCP), kReal4b), r.frame);
    EXPECT_TRUE(diff.empty()) << diff;
  }
  EXPECT_EQ(lb_.vip_stats(any_).packets, 5u) << "counted under the any-port VIP";
  EXPECT_EQ(lb_.vip_stats(exact_).packets, 0u);
  expect_untouched(lb_, udp4(kClient4, 40000, kVip4, 81), XDP_PASS, DF_PASS_NOT_VIP);
  expect_untouched(lb_, tcp4(kClient4, 40000, "10.100.0.2", 81), XDP_PASS, DF_PASS_NOT_VIP);
}

TEST_F(VipKindsTest, ExactVipWinsOverTheAnyPortVipOnItsAddress) {
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, SYN))), kReal4a);
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 81, SYN))), kReal4b);
  EXPECT_EQ(lb_.vip_stats(exact_).packets, 1u);
  EXPECT_EQ(lb_.vip_stats(any_).packets, 1u);
}

TEST_F(VipKindsTest, AnExactVipsPortFallsToTheAnyPortVipWhenItGoes) {
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, SYN))), kReal4a);
  lb_.remove_vip(exact_);
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, SYN))), kReal4b);
}

TEST_F(VipKindsTest, AnyPortFlowIsRememberedUnderItsOwnPort) {
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 8080, ACK))), kReal4b);
  df_conn conn{};
  ASSERT_TRUE(lb_.conn_lookup(flow_key(kClient4, 40000, kVip4, 8080, IPPROTO_TCP), &conn));
  EXPECT_EQ(conn.real_id, 2u);
  lb_.set_ring(any_, {1});
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 8080, ACK))), kReal4b)
      << "the table keeps the flow on its real";
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 8081, ACK))), kReal4a)
      << "another port is another flow: the new ring decides";
}

TEST_F(VipKindsTest, AnyPortUdpVipIsItsOwnProtocols) {
  uint32_t udp = lb_.add_vip(kVip4, DF_VIP_ANY_PORT, IPPROTO_UDP);
  lb_.set_ring(udp, {1});
  EXPECT_EQ(outer_dst(lb_.run(udp4(kClient4, 5353, kVip4, 53))), kReal4a);
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 5353, kVip4, 53, SYN))), kReal4b);
}

// ------------------------------------------------------------------------- hash choices

// The real a SYN of this flow gets from a ring of `ids` repeated, hashed with `hash`.
uint32_t ring_real(const std::vector<uint32_t>& ids, uint32_t hash) {
  return ids[df_ring_slot(hash, kTestRingSize) % ids.size()];
}

struct HashCase {
  const char* name;
  uint32_t flag;
  uint32_t (*hash)(const df_flow_key&);  // what the ring is asked with
};

const HashCase kHashCases[] = {
    {"five_tuple", 0, [](const df_flow_key& k) { return df_flow_hash(&k); }},
    {"src_hash_only", DF_VIP_SRC_HASH_ONLY, [](const df_flow_key& k) { return df_src_hash(&k); }},
    {"no_src_port", DF_VIP_HASH_NO_SRC_PORT,
     [](const df_flow_key& k) { return df_tuple_hash(&k, 0); }},
    {"dport_only", DF_VIP_HASH_DPORT_ONLY, [](const df_flow_key& k) { return df_dport_hash(&k); }},
};

TEST_F(VipKindsTest, EachHashChoiceAsksTheRingWithItsOwnHash) {
  const std::vector<uint32_t> ids = {1, 2, 1, 1, 2, 2, 2, 1, 2};  // no short period
  lb_.set_ring(any_, ids);
  for (const HashCase& c : kHashCases) {
    SCOPED_TRACE(c.name);
    lb_.set_vip_flags(any_, c.flag);
    for (int i = 0; i < 24; i++) {
      const std::string client = "10.0." + std::to_string(i % 3) + "." + std::to_string(10 + i);
      const uint16_t sport = 30000 + 7 * i, dport = 1000 + (i % 5);
      const uint32_t want = ring_real(ids, c.hash(flow_key(client, sport, kVip4, dport, 6)));
      EXPECT_EQ(outer_dst(lb_.run(tcp4(client, sport, kVip4, dport, SYN))),
                want == 1 ? kReal4a : kReal4b)
          << client << ":" << sport << " -> " << dport;
    }
  }
}

// What `flag` keeps on one real and what it still spreads, from one client (or many) to one
// port (or many): a set of the reals the SYNs went to.
std::set<std::string> reals_seen(BalancerHarness& lb, int clients, int sports, int dports) {
  std::set<std::string> seen;
  for (int c = 0; c < clients; c++)
    for (int s = 0; s < sports; s++)
      for (int d = 0; d < dports; d++)
        seen.insert(outer_dst(
            lb.run(tcp4("10.0.1." + std::to_string(10 + c), 30000 + s, kVip4, 2000 + d, SYN))));
  return seen;
}

TEST_F(VipKindsTest, NoSrcPortKeepsAClientOnOneRealPerPort) {
  lb_.set_ring(any_, {1, 2});
  lb_.set_vip_flags(any_, DF_VIP_HASH_NO_SRC_PORT);
  EXPECT_EQ(reals_seen(lb_, 1, 40, 1).size(), 1u) << "one client, one port: one real";
  EXPECT_EQ(reals_seen(lb_, 1, 1, 40).size(), 2u) << "the destination port still counts";
  EXPECT_EQ(reals_seen(lb_, 40, 1, 1).size(), 2u) << "clients still spread";
  lb_.set_vip_flags(any_, 0);
  EXPECT_EQ(reals_seen(lb_, 1, 40, 1).size(), 2u) << "without the flag, source ports spread";
}

TEST_F(VipKindsTest, DportOnlySendsEveryClientOfAPortToOneReal) {
  lb_.set_ring(any_, {1, 2});
  lb_.set_vip_flags(any_, DF_VIP_HASH_DPORT_ONLY);
  EXPECT_EQ(reals_seen(lb_, 20, 20, 1).size(), 1u) << "every client and source port: one real";
  EXPECT_EQ(reals_seen(lb_, 1, 1, 40).size(), 2u) << "ports spread";
  lb_.set_vip_flags(any_, 0);
  EXPECT_EQ(reals_seen(lb_, 20, 1, 1).size(), 2u) << "without the flag, clients spread";
}

TEST_F(VipKindsTest, HashChoiceLeavesTheOuterSourceToTheWholeFlow) {
  lb_.set_vip_flags(any_, DF_VIP_HASH_DPORT_ONLY);
  Bytes in = tcp4(kClient4, 40000, kVip4, 9000, SYN);
  RunResult r = lb_.run(in);
  std::string diff = describe_mismatch(
      ipip_of(in, flow_key(kClient4, 40000, kVip4, 9000, IPPROTO_TCP), kReal4b), r.frame);
  EXPECT_TRUE(diff.empty()) << diff << "(RSS on the real spreads by the 5-tuple's hash)";
}

}  // namespace
}  // namespace dogfish::testing
