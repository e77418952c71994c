// Golden tests of the VIP lookup's per-CPU copies (bpf/vip_cache.h): whatever the
// control plane writes to the VIP map reaches the very next packet, on a CPU whose
// copy of that key is from just before. Each test keeps its packets on one CPU.
#include <dogfish/abi.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include "balancer_harness.hpp"
#include "frames.hpp"
#include "support/packet.hpp"
#include "support/pinned_cpu.hpp"

namespace dogfish::testing {
namespace {

using namespace tcp_flags;

class VipCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { vip_ = add_tcp80_two_reals(lb_); }

  PinnedToOneCpu pin_;
  BalancerHarness lb_;
  uint32_t vip_ = 0;
};

TEST_F(VipCacheTest, ANewRingReachesTheNextSyn) {
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, SYN))), kReal4a);
  lb_.set_ring(vip_, {2});
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, SYN))), kReal4b);
}

TEST_F(VipCacheTest, ADeletedVipsNextPacketIsPassed) {
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, SYN))), kReal4a);
  lb_.remove_vip(vip_);
  expect_untouched(lb_, tcp4(kClient4, 40000, kVip4, 80, SYN), XDP_PASS, DF_PASS_NOT_VIP);
}

TEST_F(VipCacheTest, AKeyPassedAsNoVipIsBalancedOnceItIsOne) {
  expect_untouched(lb_, tcp4(kClient4, 40000, kVip4, 8080, SYN), XDP_PASS, DF_PASS_NOT_VIP);
  uint32_t vip = lb_.add_vip(kVip4, 8080, IPPROTO_TCP);
  lb_.set_ring(vip, {2});
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 8080, SYN))), kReal4b);
}

TEST_F(VipCacheTest, NewFlagsApplyToTheNextPacket) {
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 80, ACK))), kReal4a);
  ASSERT_EQ(lb_.conn_count(), 1u) << "remembered: the VIP has a connection table";
  lb_.set_vip_flags(vip_, DF_VIP_NO_CONN_TABLE);
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40001, kVip4, 80, ACK))), kReal4a);
  EXPECT_EQ(lb_.conn_count(), 1u) << "not remembered: the VIP no longer has one";
}

TEST_F(VipCacheTest, AnExactVipOverAnAnyPortOneTakesItsPortFromTheNextPacket) {
  uint32_t any = lb_.add_vip(kVip4, DF_VIP_ANY_PORT, IPPROTO_TCP);
  lb_.set_ring(any, {2});
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 8080, SYN))), kReal4b);
  uint32_t exact = lb_.add_vip(kVip4, 8080, IPPROTO_TCP);
  lb_.set_ring(exact, {1});
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 8080, SYN))), kReal4a);
  lb_.remove_vip(exact);
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 8080, SYN))), kReal4b);
}

TEST_F(VipCacheTest, APortPassedAsNoVipIsBalancedOnceAnAnyPortVipCovers) {
  expect_untouched(lb_, tcp4(kClient4, 40000, kVip4, 8080, SYN), XDP_PASS, DF_PASS_NOT_VIP);
  uint32_t any = lb_.add_vip(kVip4, DF_VIP_ANY_PORT, IPPROTO_TCP);
  lb_.set_ring(any, {2});
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, kVip4, 8080, SYN))), kReal4b);
}

TEST_F(VipCacheTest, AnAddressPassedAsNoVipIsBalancedOnceAPrefixVipCoversIt) {
  expect_untouched(lb_, tcp4(kClient4, 40000, "10.120.1.7", 80, SYN), XDP_PASS, DF_PASS_NOT_VIP);
  uint32_t prefix = lb_.add_prefix_vip("10.120.1.0/24", 80, IPPROTO_TCP);
  lb_.set_ring(prefix, {2});
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, "10.120.1.7", 80, SYN))), kReal4b);
}

TEST_F(VipCacheTest, APrefixVipsNewRingAndRemovalReachTheNextPacket) {
  uint32_t prefix = lb_.add_prefix_vip("10.120.1.0/24", DF_VIP_ANY_PORT, IPPROTO_TCP);
  lb_.set_ring(prefix, {2});
  ASSERT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, "10.120.1.7", 22, SYN))), kReal4b);
  lb_.set_ring(prefix, {1});
  EXPECT_EQ(outer_dst(lb_.run(tcp4(kClient4, 40000, "10.120.1.7", 22, SYN))), kReal4a);
  lb_.remove_vip(prefix);
  expect_untouched(lb_, tcp4(kClient4, 40000, "10.120.1.7", 22, SYN), XDP_PASS, DF_PASS_NOT_VIP);
}

}  // namespace
}  // namespace dogfish::testing
