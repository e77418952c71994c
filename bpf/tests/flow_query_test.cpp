// The control plane's answer to "which real does this flow go to" against the program itself:
// the flow key it builds (to_df_flow_key) finds the entry the program wrote, and the ring slot
// it computes (ring_pick) holds the real the program chose. Each test loads the object afresh.
#include <dogfish/abi.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "balancer_harness.hpp"
#include "dogfish/df_structs.hpp"
#include "dogfish/flow_query.hpp"
#include "frames.hpp"
#include "support/packet.hpp"

namespace dogfish::testing {
namespace {

using namespace tcp_flags;

constexpr uint32_t kReals = 8;

struct Family {
  const char* name;
  std::string vip, real_prefix, client_prefix;
};

void PrintTo(const Family& f, std::ostream* os) { *os << f.name; }

const Family kV4{"v4", kVip4, "10.200.0.", "10.1.0."};
const Family kV6{"v6", kVip6, "fd00:200::", "fd00:1::"};

class FlowQueryTest : public ::testing::TestWithParam<Family> {
 protected:
  // A TCP VIP on port 80 whose ring holds reals 1..8 in turn, and those reals by address.
  uint32_t add_vip(uint8_t proto, uint32_t flags = 0) {
    uint32_t vip = lb_.add_vip(GetParam().vip, 80, proto, flags);
    std::vector<uint32_t> ids;
    for (uint32_t id = 1; id <= kReals; id++) {
      std::string address = GetParam().real_prefix + std::to_string(id);
      lb_.add_real(id, address);
      id_of_[address] = id;
      ids.push_back(id);
    }
    lb_.set_ring(vip, ids);
    return vip;
  }
  std::string client(int i) const { return GetParam().client_prefix + std::to_string(1 + i % 200); }
  Bytes tcp(const std::string& src, uint16_t sport, uint8_t flags, uint32_t seq) const {
    return GetParam().vip == kVip4 ? tcp4(src, sport, kVip4, 80, flags, 64, 0, seq)
                                   : tcp6(src, sport, kVip6, 80, flags, seq);
  }
  // The key as the control plane makes it for `dogfish flow`.
  df_flow_key key(const std::string& src, uint16_t sport, Proto proto) const {
    return to_df_flow_key({*IpAddress::parse(GetParam().vip), 80, proto},
                          {*IpAddress::parse(src), sport});
  }
  // The real id a frame was sent to.
  uint32_t sent_to(const Bytes& frame) {
    RunResult r = lb_.run(frame);
    EXPECT_EQ(r.verdict, XDP_TX);
    return id_of_[outer_dst(r)];
  }

  // SYNs (the ring decides, the table is not asked) from 200 flows.
  void expect_ring_picks_as_the_program(uint32_t flags) {
    uint32_t vip = add_vip(IPPROTO_TCP, flags);
    const std::vector<uint32_t> ring = lb_.live_ring(vip);
    for (int i = 0; i < 200; i++) {
      uint16_t sport = 1024 + 97 * i;
      RingPick pick = ring_pick(key(client(i), sport, Proto::tcp), flags, kTestRingSize);
      ASSERT_LT(pick.slot, ring.size());
      EXPECT_EQ(sent_to(tcp(client(i), sport, SYN, 7)), ring[pick.slot]) << "flow " << i;
    }
  }

  BalancerHarness lb_;
  std::map<std::string, uint32_t> id_of_;
};

TEST_P(FlowQueryTest, TheControlPlanesKeyFindsTheEntryTheProgramWrote) {
  uint32_t vip = add_vip(IPPROTO_TCP);
  std::map<int, uint32_t> chosen;
  for (int i = 0; i < 64; i++) {
    uint16_t sport = 40000 + i;
    chosen[i] = sent_to(tcp(client(i), sport, SYN, 100 + i));
    ASSERT_NE(chosen[i], 0u);
    ASSERT_EQ(sent_to(tcp(client(i), sport, ACK, 101 + i)), chosen[i]);
  }
  lb_.set_ring(vip, {kReals});  // the table, not the ring, must answer now
  for (int i = 0; i < 64; i++) {
    std::optional<df_conn> conn = lb_.find_flow(key(client(i), 40000 + i, Proto::tcp));
    ASSERT_TRUE(conn) << "flow " << i << " is in the table under the control plane's key";
    EXPECT_EQ(conn->real_id, chosen[i]) << "flow " << i;
  }
  EXPECT_FALSE(lb_.find_flow(key(client(0), 39999, Proto::tcp))) << "a flow never seen";
}

TEST_P(FlowQueryTest, TheRingSlotTheControlPlanePicksHoldsTheProgramsReal) {
  expect_ring_picks_as_the_program(0);
}

TEST_P(FlowQueryTest, ASourceHashVipsSlotToo) {
  expect_ring_picks_as_the_program(DF_VIP_SRC_HASH_ONLY);
}

TEST_P(FlowQueryTest, ANoSourcePortHashVipsSlotToo) {
  expect_ring_picks_as_the_program(DF_VIP_HASH_NO_SRC_PORT);
}

TEST_P(FlowQueryTest, ADestinationPortHashVipsSlotToo) {
  expect_ring_picks_as_the_program(DF_VIP_HASH_DPORT_ONLY);
}

INSTANTIATE_TEST_SUITE_P(Families, FlowQueryTest, ::testing::Values(kV4, kV6),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(FlowQueryUdp, TheControlPlanesKeyFindsAUdpEntry) {
  BalancerHarness lb;
  uint32_t vip = lb.add_vip(kVip4, 53, IPPROTO_UDP);
  lb.add_real(1, kReal4a);
  lb.add_real(2, kReal4b);
  lb.set_ring(vip, {1, 2});
  for (uint16_t sport = 5000; sport < 5032; sport++) {
    RunResult r = lb.run(udp4(kClient4, sport, kVip4, 53));
    ASSERT_EQ(r.verdict, XDP_TX);
    std::optional<df_conn> conn = lb.find_flow(to_df_flow_key(
        {*IpAddress::parse(kVip4), 53, Proto::udp}, {*IpAddress::parse(kClient4), sport}));
    ASSERT_TRUE(conn) << "port " << sport;
    EXPECT_EQ(conn->real_id, outer_dst(r) == kReal4a ? 1u : 2u) << "port " << sport;
  }
}

}  // namespace
}  // namespace dogfish::testing
