// Golden tests of prefix VIPs: a VIP that is every address of a prefix, with a protocol and a
// port or every port, looked up only when the address has no VIP of its own. Each step of the
// rule (bpf/vip_cache.h, vip_map_lookup) in both families, each VIP's ring on a real of its own
// so the outer destination says which VIP answered:
//   1. the exact VIP (address, port, protocol);
//   2. the address's any-port VIP;
//   3. the longest prefix VIP with the port;
//   4. the longest any-port prefix VIP.
#include <dogfish/abi.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "balancer_harness.hpp"
#include "dogfish/vip_match.hpp"
#include "frames.hpp"
#include "support/packet.hpp"
#include "support/pinned_cpu.hpp"

namespace dogfish::testing {
namespace {

using namespace tcp_flags;

// One family's addresses: three nested prefixes and addresses placed in them.
struct Family {
  const char* name;
  std::string wide, mid, narrow;  // prefixes, each inside the one before
  std::string a;                  // in mid (not narrow): the exact VIP's address, port 80
  std::string b;                  // in mid (not narrow): an any-port VIP's address
  std::string c;                  // in mid, no VIP of its own
  std::string d;                  // in wide only
  std::string e;                  // in narrow
  std::string outside;            // in none
  std::vector<std::string> reals;
};

const Family kFamilies[] = {
    {"ipv4",
     "10.120.0.0/16",
     "10.120.1.0/24",
     "10.120.1.16/28",
     "10.120.1.1",
     "10.120.1.2",
     "10.120.1.7",
     "10.120.9.9",
     "10.120.1.20",
     "10.121.0.1",
     {"10.200.0.1", "10.200.0.2", "10.200.0.3", "10.200.0.4", "10.200.0.5", "10.200.0.6",
      "10.200.0.7"}},
    {"ipv6",
     "fd00:120::/48",
     "fd00:120:0:1::/64",
     "fd00:120:0:1::10/124",
     "fd00:120:0:1::1",
     "fd00:120:0:1::2",
     "fd00:120:0:1::7",
     "fd00:120:0:9::9",
     "fd00:120:0:1::14",
     "fd00:121::1",
     {"fd00:200::1", "fd00:200::2", "fd00:200::3", "fd00:200::4", "fd00:200::5", "fd00:200::6",
      "fd00:200::7"}},
};

void PrintTo(const Family& f, std::ostream* os) { *os << f.name; }

// The VIPs every case runs against, by name; real id i + 1 serves the i-th.
enum Vip { kExactA80, kAnyB, kMid80, kWide80, kMidAny, kWideAny, kNarrowAny, kVips };
const char* const kVipNames[] = {"a:80", "b:*", "mid:80", "wide:80", "mid:*", "wide:*", "narrow:*"};

class VipPrefixTest : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    const Family& f = GetParam();
    single(kExactA80, f.a, 80);
    single(kAnyB, f.b, DF_VIP_ANY_PORT);
    prefix(kMid80, f.mid, 80);
    prefix(kWide80, f.wide, 80);
    prefix(kMidAny, f.mid, DF_VIP_ANY_PORT);
    prefix(kWideAny, f.wide, DF_VIP_ANY_PORT);
    prefix(kNarrowAny, f.narrow, DF_VIP_ANY_PORT);
    for (int v = 0; v < kVips; v++) {
      lb_.add_real(v + 1, f.reals.at(v));
      lb_.set_ring(ids_[v], {uint32_t(v + 1)});
    }
  }
  void single(Vip v, const std::string& address, uint16_t port) {
    ids_[v] = lb_.add_vip(address, port, IPPROTO_TCP);
    keys_[{*IpAddress::parse(address), port, Proto::tcp}] = v;
  }
  void prefix(Vip v, const std::string& text, uint16_t port) {
    ids_[v] = lb_.add_prefix_vip(text, port, IPPROTO_TCP);
    const IpPrefix p = *IpPrefix::parse(text);
    keys_[{p.address, port, Proto::tcp, p.length}] = v;
  }

  bool v6() const { return GetParam().name == std::string("ipv6"); }
  Bytes syn(const std::string& dst, uint16_t port, uint16_t sport = 40000) const {
    return v6() ? tcp6(kClient6, sport, dst, port, SYN) : tcp4(kClient4, sport, dst, port, SYN);
  }
  const std::string& client() const { return v6() ? kClient6 : kClient4; }

  // Sends a SYN to dst:port and checks that VIP `want` took it: its real, its counter alone;
  // and that the control plane's copy of the rule (vip_match.hpp) names the same VIP.
  void expect_vip(const std::string& dst, uint16_t port, Vip want) {
    SCOPED_TRACE(dst + " port " + std::to_string(port) + " wants " + kVipNames[want]);
    const auto owner = VipMatcher::of(keys_).owner({*IpAddress::parse(dst), port, Proto::tcp});
    ASSERT_TRUE(owner);
    EXPECT_EQ(keys_.at(*owner), want) << "the control plane says " << kVipNames[keys_.at(*owner)];
    std::vector<uint64_t> before;
    for (int v = 0; v < kVips; v++) before.push_back(lb_.vip_stats(ids_[v]).packets);
    const RunResult r = lb_.run(syn(dst, port));
    ASSERT_EQ(r.verdict, XDP_TX);
    EXPECT_EQ(outer_dst(r), GetParam().reals.at(want));
    for (int v = 0; v < kVips; v++)
      EXPECT_EQ(lb_.vip_stats(ids_[v]).packets - before[v], v == want ? 1u : 0u) << kVipNames[v];
  }

  BalancerHarness lb_;
  uint32_t ids_[kVips] = {};
  std::map<ServiceKey, Vip> keys_;
};

TEST_P(VipPrefixTest, Step1TheExactVipWinsOverEveryPrefixThatHoldsItsAddress) {
  expect_vip(GetParam().a, 80, kExactA80);
}

TEST_P(VipPrefixTest, Step2AnAddresssAnyPortVipWinsOverAPrefixWithThePort) {
  expect_vip(GetParam().b, 80, kAnyB);
  expect_vip(GetParam().b, 443, kAnyB);
}

TEST_P(VipPrefixTest, Step3TheLongestPrefixWithThePortTakesAnAddressWithoutAVip) {
  expect_vip(GetParam().c, 80, kMid80);
  expect_vip(GetParam().d, 80, kWide80);
}

TEST_P(VipPrefixTest, Step3APrefixWithThePortWinsOverALongerPrefixOfEveryPort) {
  expect_vip(GetParam().e, 80, kMid80);
}

TEST_P(VipPrefixTest, Step4TheLongestAnyPortPrefixTakesTheOtherPorts) {
  expect_vip(GetParam().c, 81, kMidAny);
  expect_vip(GetParam().d, 81, kWideAny);
  expect_vip(GetParam().e, 81, kNarrowAny);
}

TEST_P(VipPrefixTest, AnExactVipsAddressOnAnotherPortFallsToThePrefixes) {
  expect_vip(GetParam().a, 81, kMidAny);
}

TEST_P(VipPrefixTest, AddressesOutsideEveryPrefixAndOtherProtocolsPass) {
  const Family& f = GetParam();
  expect_untouched(lb_, syn(f.outside, 80), XDP_PASS, DF_PASS_NOT_VIP);
  EXPECT_FALSE(VipMatcher::of(keys_).owner({*IpAddress::parse(f.outside), 80, Proto::tcp}));
  if (v6()) return;  // the UDP builder is IPv4's; the protocol is in the key either way
  expect_untouched(lb_, udp4(kClient4, 5353, f.c, 80), XDP_PASS, DF_PASS_NOT_VIP);
}

TEST_P(VipPrefixTest, APrefixHitIsEncapsulatedByteForByte) {
  const Family& f = GetParam();
  const Bytes in = syn(f.c, 80);
  const df_flow_key key = flow_key(client(), 40000, f.c, 80, IPPROTO_TCP);
  const std::string real = f.reals.at(kMid80);
  const std::string diff = describe_mismatch(
      v6() ? ip6ip6_of(in, key, real) : ipip_of(in, key, real), lb_.run(in).frame);
  EXPECT_TRUE(diff.empty()) << diff;
}

TEST_P(VipPrefixTest, AFlowIsRememberedUnderTheAddressItAsked) {
  const Family& f = GetParam();
  auto ack = [&](const std::string& dst) {
    return v6() ? tcp6(kClient6, 40000, dst, 80, ACK) : tcp4(kClient4, 40000, dst, 80, ACK);
  };
  ASSERT_EQ(outer_dst(lb_.run(ack(f.c))), f.reals.at(kMid80));
  df_conn conn{};
  ASSERT_TRUE(lb_.conn_lookup(flow_key(client(), 40000, f.c, 80, IPPROTO_TCP), &conn));
  lb_.set_ring(ids_[kMid80], {uint32_t(kWide80 + 1)});
  EXPECT_EQ(outer_dst(lb_.run(ack(f.c))), f.reals.at(kMid80)) << "the table keeps the flow";
  EXPECT_EQ(outer_dst(lb_.run(ack(f.e))), f.reals.at(kWide80))
      << "another address of the prefix is another flow: the new ring decides";
}

TEST_P(VipPrefixTest, ANarrowerPrefixsAddressGoesBackToTheWiderOneWhenItGoes) {
  const Family& f = GetParam();
  PinnedToOneCpu pin;  // one CPU's VIP copy sees both packets
  expect_vip(f.e, 81, kNarrowAny);
  lb_.remove_vip(ids_[kNarrowAny]);
  std::erase_if(keys_, [](const auto& k) { return k.second == kNarrowAny; });
  expect_vip(f.e, 81, kMidAny);
}

INSTANTIATE_TEST_SUITE_P(Families, VipPrefixTest, ::testing::ValuesIn(kFamilies),
                         [](const auto& info) { return std::string(info.param.name); });

// ------------------------------------------------------------ malformed packets to a prefix

// A packet that claims a prefix VIP's address is ours to drop; one outside it is the stack's.
class VipPrefixMalformedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lb_.add_real(1, kReal4a);
    lb_.add_real(3, kReal6a);
    lb_.set_ring(lb_.add_prefix_vip("10.120.1.0/24", 80, IPPROTO_UDP), {1});
    lb_.set_ring(lb_.add_prefix_vip("fd00:120::/64", DF_VIP_ANY_PORT, IPPROTO_TCP), {3});
  }
  BalancerHarness lb_;
};

Bytes with_options4(const std::string& dst) {
  return Packet()
      .eth(kBalancerMac, kClientSideMac)
      .ipv4({.src = kClient4, .dst = dst, .options = {1, 1, 1, 0}})
      .tcp({.sport = 40000, .dport = 22, .flags = SYN})
      .bytes();
}

Bytes fragment4(const std::string& dst) {
  return Packet()
      .eth(kBalancerMac, kClientSideMac)
      .ipv4({.src = kClient4, .dst = dst, .frag_off = 0x2000})  // more fragments
      .udp({.sport = 5353, .dport = 9999})
      .payload("part one")
      .bytes();
}

Bytes hop_by_hop6(const std::string& dst) {
  return Packet()
      .eth(kBalancerMac, kClientSideMac)
      .ipv6({.src = kClient6, .dst = dst})
      .ipv6_ext({.type = IPPROTO_HOPOPTS})
      .tcp({.sport = 40000, .dport = 22, .flags = SYN})
      .bytes();
}

TEST_F(VipPrefixMalformedTest, AnyProtocolAndPortOfAPrefixIsOurs) {
  // The prefix VIPs are UDP port 80 and IPv6 TCP: these claim their addresses all the same.
  expect_untouched(lb_, with_options4("10.120.1.99"), XDP_DROP, DF_DROP_IP_OPTIONS);
  expect_untouched(lb_, fragment4("10.120.1.254"), XDP_DROP, DF_DROP_FRAGMENT);
  expect_untouched(lb_, hop_by_hop6("fd00:120::abcd"), XDP_DROP, DF_DROP_IPV6_EXT);
}

TEST_F(VipPrefixMalformedTest, OutsideThePrefixTheStackJudges) {
  expect_untouched(lb_, with_options4("10.120.2.1"), XDP_PASS, DF_PASS_NOT_VIP);
  expect_untouched(lb_, fragment4("10.121.1.1"), XDP_PASS, DF_PASS_NOT_VIP);
  expect_untouched(lb_, hop_by_hop6("fd00:120:0:1::1"), XDP_PASS, DF_PASS_NOT_VIP);
}

}  // namespace
}  // namespace dogfish::testing
