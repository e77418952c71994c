// The data-plane checker must fail when a program breaks a promise: each case
// takes a right outcome, breaks one thing, and expects the rule that catches it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <string>

#include "checker.hpp"
#include "support/packet.hpp"
#include "world.hpp"

namespace dogfish::fuzz {
namespace {

namespace t = dogfish::testing;

const t::Mac kOurMac = t::mac("02:00:00:00:00:01"), kPeerMac = t::mac("02:00:00:00:00:02");
const t::Mac kGateway = t::mac("02:00:00:00:00:99");

Bytes client_syn(const std::string& dst = "10.100.0.1") {
  return t::Packet()
      .eth(kOurMac, kPeerMac)
      .ipv4({.src = "10.0.0.10", .dst = dst, .ttl = 63, .tos = 0x10, .frag_off = 0x4000})
      .tcp({.sport = 40000, .dport = 80})
      .payload("hello")
      .bytes();
}

// What the balancer sends for `in` to real 10.200.0.1 from 172.16.1.2.
Bytes encapsulated(const Bytes& in, const std::string& real = "10.200.0.1") {
  return t::Packet()
      .eth(kGateway, kOurMac)
      .ipv4({.src = "172.16.1.2",
             .dst = real,
             .ttl = 63,
             .tos = 0x10,
             .frag_off = 0x4000,
             .proto = IPPROTO_IPIP})
      .payload(Bytes(in.begin() + 14, in.end()))
      .bytes();
}

Outcome outcome(std::uint32_t verdict, std::uint32_t reason, std::uint32_t reasons, Bytes in,
                Bytes out) {
  Outcome o{
      .verdict = verdict, .counted = std::vector<std::uint64_t>(reasons), .in = in, .out = out};
  o.counted[reason] = 1;
  return o;
}

Outcome tx(Bytes in, Bytes out) {
  return outcome(XDP_TX, DF_TX, DF_REASON_MAX, std::move(in), std::move(out));
}

std::string broken(const std::optional<std::string>& v) { return v.value_or("(holds)"); }

class BalancerChecker : public ::testing::Test {
 protected:
  World world = default_world();
  Bytes in = client_syn();
  Bytes out = encapsulated(in);
  std::optional<std::string> check(const Outcome& o) { return check_balancer(world.balancer, o); }
};

TEST_F(BalancerChecker, ARightEncapsulationHolds) { EXPECT_EQ(check(tx(in, out)), std::nullopt); }

// A router's "fragmentation needed" about the VIP's reply, sent on to the real: the outer
// header wraps an ICMP packet, not a client's segment (the fuzzer's seeds found the checker
// judging it as one).
TEST_F(BalancerChecker, ARightIcmpErrorToTheRealHolds) {
  Bytes quote = t::Packet()
                    .ipv4({.src = "10.100.0.1", .dst = "10.0.0.10", .frag_off = 0x4000})
                    .tcp({.sport = 80, .dport = 40000})
                    .bytes();
  Bytes error = t::Packet()
                    .eth(kOurMac, kPeerMac)
                    .ipv4({.src = "10.9.9.9", .dst = "10.100.0.1", .ttl = 63, .tos = 0x10})
                    .icmp({.type = 3, .code = 4, .rest = 1400})
                    .payload(quote)
                    .bytes();
  EXPECT_EQ(check(outcome(XDP_TX, DF_TX_ICMP_ERROR, DF_REASON_MAX, error, encapsulated(error))),
            std::nullopt);
}

TEST_F(BalancerChecker, AbortedIsAViolation) {
  EXPECT_EQ(broken(check(outcome(XDP_ABORTED, DF_TX, DF_REASON_MAX, in, out))),
            "XDP_ABORTED (never allowed)");
}

TEST_F(BalancerChecker, NoReasonOrTwoReasonsIsAViolation) {
  Outcome none = tx(in, out);
  none.counted[DF_TX] = 0;
  EXPECT_EQ(broken(check(none)), "counted 0 reasons (none), not exactly one");
  Outcome two = tx(in, out);
  two.counted[DF_PASS_NOT_VIP] = 1;
  EXPECT_EQ(broken(check(two)), "counted 2 reasons (tx 1, pass_not_vip 1), not exactly one");
}

TEST_F(BalancerChecker, AVerdictNoRuleCoversIsAViolation) {
  EXPECT_NE(broken(check(outcome(XDP_TX, DF_PASS_L4_PROTO, DF_REASON_MAX, in, out)))
                .find("XDP_TX with pass_l4_proto: no rule covers this pair"),
            std::string::npos);
  EXPECT_NE(broken(check(outcome(XDP_REDIRECT, DF_TX, DF_REASON_MAX, in, out))).find("no rule"),
            std::string::npos);
}

TEST_F(BalancerChecker, EachBrokenPromiseOfAnEncapsulationIsCaught) {
  struct Case {
    const char* promise;
    Bytes out;
  };
  auto with = [&](std::size_t off, std::uint8_t v) {
    Bytes b = out;
    b[off] = v;
    return b;
  };
  Bytes short_out(out.begin(), out.end() - 1);
  const Case cases[] = {
      {"the frame grows by one outer IP header", short_out},
      {"the client's packet is carried byte for byte", with(out.size() - 1, '!')},
      {"Ethernet goes to the gateway", with(0, 0x03)},
      {"the outer header is well formed", with(14 + 10, out[14 + 10] ^ 1)},  // checksum
      {"the outer header is well formed", with(14 + 8, 64)},                 // TTL not carried
      {"the outer destination is a real of the VIP", encapsulated(in, "10.200.0.3")},
  };
  for (const Case& c : cases)
    EXPECT_NE(broken(check(tx(in, c.out))).find(c.promise), std::string::npos) << c.promise;
}

TEST_F(BalancerChecker, AnEncapsulationOfANonVipIsCaught) {
  Bytes stranger = client_syn("10.9.9.9");
  EXPECT_NE(broken(check(tx(stranger, encapsulated(stranger)))).find("is no VIP"),
            std::string::npos);
}

TEST_F(BalancerChecker, SendingWithoutAGatewayIsCaught) {
  world.balancer.config.gateway_set = 0;
  EXPECT_NE(broken(check(tx(in, out))).find("gateway is not set"), std::string::npos);
}

TEST_F(BalancerChecker, APassMustLeaveTheFrameUntouched) {
  EXPECT_EQ(check(outcome(XDP_PASS, DF_PASS_NOT_VIP, DF_REASON_MAX, in, in)), std::nullopt);
  Bytes changed = in;
  changed[20] ^= 1;
  EXPECT_NE(broken(check(outcome(XDP_PASS, DF_PASS_NOT_VIP, DF_REASON_MAX, in, changed)))
                .find("first difference at byte 20"),
            std::string::npos);
}

TEST_F(BalancerChecker, ADropReasonWithAPassIsAViolation) {
  EXPECT_EQ(check(outcome(XDP_DROP, DF_DROP_TCP_FLAGS, DF_REASON_MAX, in, in)), std::nullopt);
  EXPECT_NE(
      broken(check(outcome(XDP_PASS, DF_DROP_TCP_FLAGS, DF_REASON_MAX, in, in))).find("no rule"),
      std::string::npos);
}

class DecapChecker : public ::testing::Test {
 protected:
  World world = default_world();
  Bytes client = client_syn();
  Bytes in = encapsulated(client);  // to 10.200.0.1, an address decap strips for
  Bytes stripped() {
    Bytes b(in.begin(), in.begin() + 12);
    b.push_back(0x08);
    b.push_back(0x00);
    b.insert(b.end(), in.begin() + 14 + 20, in.end());
    return b;
  }
  Outcome strip(Bytes from, Bytes to) {
    return outcome(XDP_PASS, DF_DECAP_DECAP_4IN4, DF_DECAP_REASON_MAX, from, to);
  }
};

TEST_F(DecapChecker, ARightStripHolds) {
  EXPECT_EQ(check_decap(world.decap, strip(in, stripped())), std::nullopt);
  EXPECT_EQ(check_round_trip(client, strip(in, stripped())), std::nullopt);
}

TEST_F(DecapChecker, StrippingForAnAddressNotConfiguredIsCaught) {
  Bytes other = encapsulated(client, "10.200.0.9");
  Bytes out(other.begin(), other.begin() + 14);
  out.insert(out.end(), other.begin() + 34, other.end());
  EXPECT_NE(broken(check_decap(world.decap, strip(other, out)))
                .find("refused: the outer destination is one decap strips for"),
            std::string::npos);
  world.decap.accept_any = true;
  EXPECT_EQ(check_decap(world.decap, strip(other, out)), std::nullopt);
}

TEST_F(DecapChecker, AStripOfTheWrongLengthOrKindIsCaught) {
  Bytes one_short = stripped();
  one_short.erase(one_short.begin() + 14);
  EXPECT_NE(broken(check_decap(world.decap, strip(in, one_short)))
                .find("exactly the outer header is stripped"),
            std::string::npos);
  Outcome wrong_kind = outcome(XDP_PASS, DF_DECAP_DECAP_6IN6, DF_DECAP_REASON_MAX, in, stripped());
  EXPECT_NE(broken(check_decap(world.decap, wrong_kind)).find("the reason names"),
            std::string::npos);
}

TEST_F(DecapChecker, ARoundTripThatDoesNotGiveTheClientsPacketBackIsCaught) {
  Bytes other_client = client_syn("10.100.0.2");
  EXPECT_NE(broken(check_round_trip(other_client, strip(in, stripped()))).find("did not give back"),
            std::string::npos);
  Outcome refused = outcome(XDP_PASS, DF_DECAP_PASS_NOT_OURS, DF_DECAP_REASON_MAX, in, in);
  EXPECT_NE(broken(check_round_trip(client, refused)).find("did not strip"), std::string::npos);
}

}  // namespace
}  // namespace dogfish::fuzz
