// Golden tests of the connection table's rules (bpf/conn_table.h): a SYN is never
// remembered, the ACK that answers it is and takes its real, a newer handshake
// replaces a stale entry, and the flood guard rations what misses may write.
// Each test loads the object afresh.
#include <bpf/bpf.h>
#include <dogfish/abi.h>
#include <dogfish/flow_hash.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <string>
#include <unordered_map>
#include <utility>

#include "balancer_harness.hpp"
#include "frames.hpp"
#include "support/packet.hpp"
#include "support/pinned_cpu.hpp"

namespace dogfish::testing {
namespace {

using namespace tcp_flags;

std::string client(int i) {
  return "10.1." + std::to_string((i >> 8) & 0xff) + "." + std::to_string(i & 0xff);
}

Bytes syn(const std::string& src, uint16_t sport, uint32_t isn) {
  return tcp4(src, sport, kVip4, 80, SYN, 64, 0, isn);
}

Bytes ack(const std::string& src, uint16_t sport, uint32_t seq) {
  return tcp4(src, sport, kVip4, 80, ACK, 64, 0, seq);
}

class ConnTableTest : public ::testing::Test {
 protected:
  void SetUp() override { vip_ = add_tcp80_two_reals(lb_); }

  void set_rate(uint32_t rate) {
    lb_.update_config([&](df_config& c) { c.conn_insert_rate = rate; });
  }

  // The real a frame went to.
  std::string to(const Bytes& frame) { return outer_dst(lb_.run(frame)); }

  void expect_sent(const Bytes& expected, const RunResult& r) {
    EXPECT_EQ(r.verdict, XDP_TX);
    std::string diff = describe_mismatch(expected, r.frame);
    EXPECT_TRUE(diff.empty()) << diff;
  }

  BalancerHarness lb_;
  uint32_t vip_ = 0;
};

TEST_F(ConnTableTest, SynsAreNeverRemembered) {
  for (int i = 0; i < 300; i++) ASSERT_EQ(to(syn(client(i), 40000, 7)), kReal4a);
  EXPECT_EQ(lb_.conn_count(), 0u);
  df_global_stats s = lb_.global_stats();
  EXPECT_EQ(s.hash_decisions, 300u);
  EXPECT_EQ(s.conn_hit + s.conn_miss + s.conn_inserted, 0u) << "a SYN never reads the table";
}

TEST_F(ConnTableTest, TheAckThatAnswersASynTakesItsRealAcrossARingChange) {
  ASSERT_EQ(to(syn(kClient4, 40000, 0xfffffff0)), kReal4a);
  lb_.set_ring(vip_, {2});
  Bytes in = ack(kClient4, 40000, 0xfffffff1);
  auto key = flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP);
  expect_sent(ipip_of(in, key, kReal4a), lb_.run(in));

  df_conn c{};
  ASSERT_TRUE(lb_.conn_lookup(key, &c)) << "the handshake's ACK is remembered";
  EXPECT_EQ(c.real_id, 1u);
  EXPECT_EQ(to(ack(kClient4, 40000, 0xfffffff1 + 500)), kReal4a) << "and later packets hit";
  df_global_stats s = lb_.global_stats();
  EXPECT_EQ(s.conn_proven, 1u);
  EXPECT_EQ(s.conn_inserted, 1u);
  EXPECT_EQ(s.conn_hit, 1u);
  EXPECT_EQ(s.hash_decisions, 1u) << "only the SYN asked the ring";
}

TEST_F(ConnTableTest, AHitTakesTheFlowsHashFromItsEntry) {
  to(ack(kClient4, 40000, 1));
  auto key = flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP);
  df_conn c{};
  ASSERT_TRUE(lb_.conn_lookup(key, &c));
  ASSERT_EQ(c.hash, df_flow_hash(&key)) << "an entry keeps the flow's hash";
  c.hash = 0x000abcde;  // the outer source's host bits come from it, not from hashing afresh
  lb_.conn_update(key, c);
  RunResult r = lb_.run(ack(kClient4, 40000, 2));
  ASSERT_EQ(r.verdict, XDP_TX);
  EXPECT_EQ(ntop4(ntohl(*reinterpret_cast<const uint32_t*>(&r.frame[26]))), "172.26.188.222");
}

TEST_F(ConnTableTest, SequenceNumbersWrapAroundInTheProof) {
  ASSERT_EQ(to(syn(kClient4, 40000, 0xffffffff)), kReal4a);
  lb_.set_ring(vip_, {2});
  EXPECT_EQ(to(ack(kClient4, 40000, 0)), kReal4a);
  EXPECT_EQ(lb_.global_stats().conn_proven, 1u);
}

TEST_F(ConnTableTest, AnAckThatDoesNotAnswerTheSynFollowsTheRing) {
  ASSERT_EQ(to(syn(kClient4, 40000, 5000)), kReal4a);
  lb_.set_ring(vip_, {2});
  EXPECT_EQ(to(ack(kClient4, 40000, 5002)), kReal4b);
  df_global_stats s = lb_.global_stats();
  EXPECT_EQ(s.conn_proven, 0u);
  EXPECT_EQ(s.conn_inserted, 1u) << "an unproven miss is remembered too, while the guard allows";
  EXPECT_EQ(s.hash_decisions, 2u);
}

// Two IPv4 flows to the VIP whose hashes are equal: they share a SYN slot and
// its quick check, so only the record's whole tuple tells them apart.
std::pair<uint16_t, uint16_t> colliding_ports(const std::string& src_a, const std::string& src_b) {
  std::unordered_map<uint32_t, uint16_t> seen;
  for (uint32_t port = 1; port < 65536; port++)
    seen.emplace(df_flow_hash(&(const df_flow_key&)flow_key(src_a, port, kVip4, 80, IPPROTO_TCP)),
                 port);
  for (uint32_t port = 1; port < 65536; port++) {
    auto k = flow_key(src_b, port, kVip4, 80, IPPROTO_TCP);
    auto it = seen.find(df_flow_hash(&k));
    if (it != seen.end()) return {it->second, uint16_t(port)};
  }
  return {0, 0};
}

TEST_F(ConnTableTest, TheRecordOfAnotherFlowWithTheSameHashProvesNothing) {
  // 2^32 hashes, 2^32 pairs of ports over two sources: one collision expected; try a few.
  std::pair<uint16_t, uint16_t> ports{0, 0};
  std::string a, b;
  for (int i = 0; i < 20 && !ports.first; i++) {
    a = client(2 * i + 1);
    b = client(2 * i + 2);
    ports = colliding_ports(a, b);
  }
  ASSERT_NE(ports.first, 0) << "no colliding pair found";
  auto ka = flow_key(a, ports.first, kVip4, 80, IPPROTO_TCP);
  auto kb = flow_key(b, ports.second, kVip4, 80, IPPROTO_TCP);
  ASSERT_EQ(df_flow_hash(&ka), df_flow_hash(&kb));

  ASSERT_EQ(to(syn(a, ports.first, 7000)), kReal4a);
  lb_.set_ring(vip_, {2});
  EXPECT_EQ(to(ack(b, ports.second, 7001)), kReal4b);
  EXPECT_EQ(lb_.global_stats().conn_proven, 0u);
  EXPECT_EQ(to(ack(a, ports.first, 7001)), kReal4a) << "the record still proves its own flow";
}

TEST_F(ConnTableTest, ATornRecordProvesNothing) {
  ASSERT_EQ(to(syn(kClient4, 40000, 7000)), kReal4a);
  auto key = flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP);
  uint32_t slot = df_flow_hash(&key) & (DF_SYN_SLOTS - 1);
  int fd = lb_.map_fd("syn_recs");
  ASSERT_GE(fd, 0);
  df_syn_rec rec{};
  ASSERT_EQ(bpf_map_lookup_elem(fd, &slot, &rec), 0);
  ASSERT_EQ(rec.real_id, 1u);
  ASSERT_EQ(rec.isn, 7000u);
  rec.real_id = 2;  // half of another SYN's write: the check word is still the first one's
  ASSERT_EQ(bpf_map_update_elem(fd, &slot, &rec, BPF_ANY), 0);
  lb_.set_ring(vip_, {1, 2, 2, 2, 2});
  EXPECT_EQ(lb_.global_stats().conn_proven, 0u);
  lb_.run(ack(kClient4, 40000, 7001));
  EXPECT_EQ(lb_.global_stats().conn_proven, 0u);
}

TEST_F(ConnTableTest, ANewerHandshakeOnAReusedTupleReplacesTheStaleEntry) {
  to(syn(kClient4, 40000, 1000));
  ASSERT_EQ(to(ack(kClient4, 40000, 1001)), kReal4a);
  lb_.set_ring(vip_, {2});
  ASSERT_EQ(to(syn(kClient4, 40000, 9000)), kReal4b) << "a SYN always asks the ring";
  EXPECT_EQ(to(ack(kClient4, 40000, 9001)), kReal4b);
  auto key = flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP);
  df_conn c{};
  ASSERT_TRUE(lb_.conn_lookup(key, &c));
  EXPECT_EQ(c.real_id, 2u);
  EXPECT_EQ(lb_.global_stats().conn_replaced, 1u);
  EXPECT_EQ(lb_.conn_count(), 1u);
}

TEST_F(ConnTableTest, ASpoofedSynOnAnEstablishedTupleMovesNothing) {
  to(syn(kClient4, 40000, 1000));
  ASSERT_EQ(to(ack(kClient4, 40000, 1001)), kReal4a);
  lb_.set_ring(vip_, {2});
  ASSERT_EQ(to(syn(kClient4, 40000, 0x5eed)), kReal4b);
  EXPECT_EQ(to(ack(kClient4, 40000, 1001 + 18)), kReal4a)
      << "the established flow's next segment does not answer the spoofed SYN";
  EXPECT_EQ(lb_.global_stats().conn_replaced, 0u);
}

TEST_F(ConnTableTest, TheGuardKeepsItsLastTokensForHandshakes) {
  PinnedToOneCpu pin;
  set_rate(2);  // a full bucket of 2: one for any miss, the last for a handshake
  for (int i = 0; i < 3; i++) ASSERT_EQ(to(syn(client(100 + i), 40000, 50)), kReal4a);
  EXPECT_EQ(to(ack(client(1), 40000, 1)), kReal4a);
  EXPECT_EQ(to(ack(client(2), 40000, 1)), kReal4a) << "skipped, still balanced by the ring";
  EXPECT_EQ(to(ack(client(100), 40000, 51)), kReal4a);
  EXPECT_EQ(to(ack(client(101), 40000, 51)), kReal4a);
  df_global_stats s = lb_.global_stats();
  EXPECT_EQ(s.conn_miss, 4u);
  EXPECT_EQ(s.conn_proven, 2u);
  EXPECT_EQ(s.conn_inserted, 2u) << "client 1's miss, then client 100's handshake";
  EXPECT_EQ(s.conn_skipped, 2u) << "client 2's miss (the last token is kept), client 101's";
  EXPECT_EQ(s.guard_engaged, 1u) << "refusals within one second count once";
  df_conn c{};
  EXPECT_TRUE(lb_.conn_lookup(flow_key(client(1), 40000, kVip4, 80, IPPROTO_TCP), &c));
  EXPECT_FALSE(lb_.conn_lookup(flow_key(client(2), 40000, kVip4, 80, IPPROTO_TCP), &c));
  EXPECT_TRUE(lb_.conn_lookup(flow_key(client(100), 40000, kVip4, 80, IPPROTO_TCP), &c));
  EXPECT_FALSE(lb_.conn_lookup(flow_key(client(101), 40000, kVip4, 80, IPPROTO_TCP), &c));
}

TEST_F(ConnTableTest, ASkippedMissIsSentExactlyAsAnyOther) {
  PinnedToOneCpu pin;
  set_rate(2);
  to(ack(client(1), 40000, 1));
  Bytes in = ack(client(2), 40000, 1);
  auto key = flow_key(client(2), 40000, kVip4, 80, IPPROTO_TCP);
  expect_sent(ipip_of(in, key, kReal4a), lb_.run(in));
  EXPECT_EQ(lb_.global_stats().conn_skipped, 1u);
}

TEST_F(ConnTableTest, UdpNewFlowsAreRationedLikeAnyMiss) {
  PinnedToOneCpu pin;
  uint32_t udp = lb_.add_vip(kVip4, 53, IPPROTO_UDP);
  lb_.set_ring(udp, {2});
  set_rate(2);
  EXPECT_EQ(to(udp4(client(1), 5353, kVip4, 53)), kReal4b);
  EXPECT_EQ(to(udp4(client(2), 5353, kVip4, 53)), kReal4b);
  EXPECT_EQ(to(udp4(client(1), 5353, kVip4, 53)), kReal4b) << "the remembered flow hits";
  df_global_stats s = lb_.global_stats();
  EXPECT_EQ(s.conn_inserted, 1u);
  EXPECT_EQ(s.conn_skipped, 1u);
  EXPECT_EQ(s.conn_hit, 1u);
}

TEST_F(ConnTableTest, RateZeroRemembersEveryMiss) {
  for (int i = 0; i < 200; i++) to(ack(client(i), 40000, 1));
  EXPECT_EQ(lb_.global_stats().conn_inserted, 200u);
  EXPECT_EQ(lb_.global_stats().conn_skipped, 0u);
  EXPECT_EQ(lb_.conn_count(), 200u);
}

// One LRU for the whole table: one CPU may fill it (per-CPU LRU lists would
// give it a share of the entries alone).
TEST_F(ConnTableTest, OneCpuCanFillTheWholeTable) {
  PinnedToOneCpu pin;
  const int entries = 1024;  // the harness's table
  for (int i = 0; i < entries; i++) to(ack(client(i), 40000, 1));
  EXPECT_GE(lb_.conn_count(), entries * 9 / 10);
}

}  // namespace
}  // namespace dogfish::testing
