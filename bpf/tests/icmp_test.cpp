// Golden-packet tests of the balancer's ICMP paths (bpf/icmp.h), both families: echo
// replies, too-big answers, ICMP errors sent on to the real that owns the quoted flow,
// and malformed ICMP passed or dropped under its reason, never sent anywhere.
#include <arpa/inet.h>
#include <dogfish/abi.h>
#include <dogfish/flow_hash.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "balancer_harness.hpp"
#include "support/packet.hpp"

namespace dogfish::testing {
namespace {

const Mac kBalancerMac = mac("02:00:00:00:00:01");
const Mac kRouterMac = mac("02:00:00:00:00:02");   // the hop the frames arrive from
const Mac kGatewayMac = mac("02:00:00:00:00:99");  // the harness's gateway

const std::string kVip4 = "10.100.0.1", kVip6 = "fd00:100::1";
const std::string kClient4 = "10.0.0.10", kClient6 = "fd00:1::10";
const std::string kRouter4 = "10.0.9.1", kRouter6 = "fd00:9::1";  // sends the errors
const std::string kReal4a = "10.200.0.1", kReal4b = "10.200.0.2";
const std::string kReal6a = "fd00:200::1", kReal6b = "fd00:200::2";

constexpr uint8_t kEchoRequest4 = 8, kEchoReply4 = 0, kUnreachable4 = 3, kFragNeeded = 4;
constexpr uint8_t kUnreachable6 = 1, kTooBig6 = 2, kEchoRequest6 = 128, kEchoReply6 = 129;

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

Bytes head(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + std::min(n, b.size())); }

bool is_v6(const std::string& addr) { return addr.find(':') != std::string::npos; }

Bytes echo_request(const std::string& src, const std::string& dst, size_t data_len) {
  Packet p;
  p.eth(kBalancerMac, kRouterMac);
  if (is_v6(dst))
    p.ipv6({.src = src, .dst = dst, .hop_limit = 60, .traffic_class = 0x20, .flow_label = 99})
        .icmp({.type = kEchoRequest6, .rest = 0x1234'0007});
  else
    p.ipv4({.src = src, .dst = dst, .ttl = 60, .id = 77, .frag_off = 0x4000})
        .icmp({.type = kEchoRequest4, .rest = 0x1234'0007});
  return p.payload(pattern(data_len)).bytes();
}

// A client's TCP segment of `l3_len` bytes to a VIP, DF set (IPv4).
Bytes segment(const std::string& client, const std::string& vip, size_t l3_len,
              uint16_t frag_off = 0x4000) {
  Packet p;
  p.eth(kBalancerMac, kRouterMac);
  if (is_v6(vip))
    p.ipv6({.src = client, .dst = vip, .hop_limit = 62});
  else
    p.ipv4({.src = client, .dst = vip, .ttl = 62, .id = 5, .frag_off = frag_off});
  size_t hdrs = (is_v6(vip) ? 40 : 20) + 20;
  return p.tcp({.sport = 40000, .dport = 80, .flags = tcp_flags::ACK})
      .payload(pattern(l3_len - hdrs))
      .bytes();
}

// A real's reply from the VIP to the client (DSR), as a router would quote it: L3 bytes.
Bytes reply(const std::string& vip, const std::string& client, uint16_t vip_port = 80,
            bool udp = false) {
  Packet p;
  if (is_v6(vip))
    p.ipv6({.src = vip, .dst = client});
  else
    p.ipv4({.src = vip, .dst = client, .frag_off = 0x4000});
  if (udp)
    p.udp({.sport = vip_port, .dport = 5353});
  else
    p.tcp({.sport = vip_port, .dport = 40000, .flags = tcp_flags::ACK});
  return p.payload(pattern(1400)).bytes();
}

// A router's error about a packet, to that packet's source, quoting `quote`.
Bytes error(const std::string& vip, const Icmp& icmp, const Bytes& quote) {
  Packet p;
  p.eth(kBalancerMac, kRouterMac);
  if (is_v6(vip))
    p.ipv6({.src = kRouter6, .dst = vip, .hop_limit = 63, .traffic_class = 0xc0});
  else
    p.ipv4({.src = kRouter4, .dst = vip, .ttl = 63, .tos = 0xc0});
  return p.icmp(icmp).payload(quote).bytes();
}

// The standard quotes: IPv4 as much as fits 576 bytes, IPv6 as much as fits 1280.
Bytes frag_needed(uint32_t mtu, const Bytes& quoted) {
  return error(kVip4, {.type = kUnreachable4, .code = kFragNeeded, .rest = mtu},
               head(quoted, 576 - 28));
}
Bytes too_big6(uint32_t mtu, const Bytes& quoted) {
  return error(kVip6, {.type = kTooBig6, .rest = mtu}, head(quoted, 1280 - 48));
}

// `in` as the balancer sends it to `real` for the flow `key`: outer source from the flow's hash.
Bytes encapsulated(const Bytes& in, const df_flow_key& key, const std::string& real) {
  const uint32_t hash = df_flow_hash(&key);
  const bool inner6 = key.vip.family == DF_FAMILY_V6;
  const uint8_t tos = inner6 ? uint8_t((in[14] << 4) | (in[15] >> 4)) : in[15];
  const uint8_t ttl = inner6 ? in[21] : in[22];
  const uint8_t proto = inner6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
  Packet p;
  p.eth(kGatewayMac, kBalancerMac);
  char buf[INET6_ADDRSTRLEN];
  if (is_v6(real)) {
    auto src = ip6("fd00:df::");  // the harness's prefix: the hash fills the last 32 bits
    const uint32_t last = htonl(hash);
    std::memcpy(&src[12], &last, 4);
    p.ipv6({.src = inet_ntop(AF_INET6, src.data(), buf, sizeof buf),
            .dst = real,
            .hop_limit = ttl,
            .traffic_class = tos,
            .flow_label = hash & 0xfffff,
            .nexthdr = proto});
  } else {
    const in_addr src{htonl(0xac100000 | (hash & 0x000fffff))};  // 172.16.0.0/12
    p.ipv4({.src = inet_ntop(AF_INET, &src, buf, sizeof buf),
            .dst = real,
            .ttl = ttl,
            .tos = tos,
            .frag_off = 0x4000,
            .proto = proto});
  }
  return p.payload(l3_of(in)).bytes();
}

// The one's complement sum of an answer's ICMP message (IPv6: with its pseudo-header) is all
// ones when its checksum is right: checked apart from the builder that made the expected frame.
bool icmp_checksum_verifies(const Bytes& frame) {
  const bool v6 = frame[12] == 0x86;
  const size_t l4 = 14 + (v6 ? 40 : 20);
  uint32_t sum = 0;
  auto add = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; i += 2) sum += (frame[i] << 8) | (i + 1 < to ? frame[i + 1] : 0);
  };
  add(l4, frame.size());
  if (v6) {
    add(14 + 8, 14 + 40);
    sum += (frame.size() - l4) + IPPROTO_ICMPV6;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

uint32_t icmp_rest(const Bytes& frame) {
  const size_t at = 14 + (frame[12] == 0x86 ? 40 : 20) + 4;
  return (frame[at] << 24) | (frame[at + 1] << 16) | (frame[at + 2] << 8) | frame[at + 3];
}

class IcmpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lb_.add_real(1, kReal4a);
    lb_.add_real(2, kReal4b);
    lb_.add_real(3, kReal6a);
    lb_.add_real(4, kReal6b);
    vip4_ = lb_.add_vip(kVip4, 80, IPPROTO_TCP);
    udp4_ = lb_.add_vip(kVip4, 53, IPPROTO_UDP);
    vip6_ = lb_.add_vip(kVip6, 80, IPPROTO_TCP);
    lb_.set_ring(vip4_, {1});
    lb_.set_ring(udp4_, {1});
    lb_.set_ring(vip6_, {3});
  }

  // The run's verdict, its whole frame, and that `reason` is the one reason counted.
  void expect(const Bytes& in, int verdict, df_reason reason, const Bytes& out) {
    df_global_stats before = lb_.global_stats();
    RunResult r = lb_.run(in);
    EXPECT_EQ(r.verdict, verdict);
    std::string diff = describe_mismatch(out, r.frame);
    EXPECT_TRUE(diff.empty()) << diff;
    df_global_stats after = lb_.global_stats();
    for (int i = 0; i < DF_REASON_MAX; i++)
      EXPECT_EQ(after.reason[i] - before.reason[i], i == reason ? 1u : 0u) << "reason " << i;
    last_ = r.frame;
  }

  // A family's TCP flow, the router's error about its reply, and its VIP's two reals.
  struct Side {
    std::string client, vip;
    df_flow_key key;
    uint32_t vip_id;
    Bytes error;
    std::string table_real, ring_real;  // a: the ring's at SetUp; b: another
    uint32_t table_id, ring_id;
  };
  std::vector<Side> sides() const {
    return {{kClient4, kVip4, flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP), vip4_,
             frag_needed(1280, reply(kVip4, kClient4)), kReal4a, kReal4b, 1, 2},
            {kClient6, kVip6, flow_key(kClient6, 40000, kVip6, 80, IPPROTO_TCP), vip6_,
             too_big6(1280, reply(kVip6, kClient6)), kReal6a, kReal6b, 3, 4}};
  }

  BalancerHarness lb_;
  uint32_t vip4_ = 0, udp4_ = 0, vip6_ = 0;
  Bytes last_;
};

// ---------------------------------------------------------------- echo

TEST_F(IcmpTest, Ipv4EchoRequestToAVipAddressIsAnsweredFromIt) {
  Bytes in = echo_request(kClient4, kVip4, 56);
  Bytes out = Packet()
                  .eth(kRouterMac, kBalancerMac)
                  .ipv4({.src = kVip4, .dst = kClient4, .ttl = 64, .id = 77, .frag_off = 0x4000})
                  .icmp({.type = kEchoReply4, .rest = 0x1234'0007})
                  .payload(pattern(56))
                  .bytes();
  expect(in, XDP_TX, DF_TX_ICMP_ECHO, out);
  EXPECT_TRUE(icmp_checksum_verifies(last_));
  EXPECT_EQ(lb_.conn_count(), 0u);
}

TEST_F(IcmpTest, Ipv6EchoRequestToAVipAddressIsAnsweredFromIt) {
  Bytes in = echo_request(kClient6, kVip6, 56);
  Bytes out = Packet()
                  .eth(kRouterMac, kBalancerMac)
                  .ipv6({.src = kVip6,
                         .dst = kClient6,
                         .hop_limit = 64,
                         .traffic_class = 0x20,
                         .flow_label = 99})
                  .icmp({.type = kEchoReply6, .rest = 0x1234'0007})
                  .payload(pattern(56))
                  .bytes();
  expect(in, XDP_TX, DF_TX_ICMP_ECHO, out);
  EXPECT_TRUE(icmp_checksum_verifies(last_));
}

TEST_F(IcmpTest, EchoOfAnyLengthIsChecksummedWhole) {
  // Lengths around the 512-byte pieces, and 968: a pseudo-header length whose low byte carries.
  for (size_t len : {0, 1, 3, 57, 511, 512, 513, 960, 1472}) {
    SCOPED_TRACE(len);
    RunResult r4 = lb_.run(echo_request(kClient4, kVip4, len));
    EXPECT_EQ(r4.verdict, XDP_TX);
    EXPECT_TRUE(icmp_checksum_verifies(r4.frame));
    RunResult r6 = lb_.run(echo_request(kClient6, kVip6, len));
    EXPECT_EQ(r6.verdict, XDP_TX);
    EXPECT_TRUE(icmp_checksum_verifies(r6.frame));
  }
  EXPECT_EQ(lb_.global_stats().reason[DF_TX_ICMP_ECHO], 18u);
}

TEST_F(IcmpTest, EchoTurnedOffGoesToTheStack) {
  lb_.update_config([](df_config& c) { c.icmp_off = DF_ICMP_NO_ECHO; });
  expect_untouched(lb_, echo_request(kClient4, kVip4, 56), XDP_PASS, DF_PASS_L4_PROTO);
  expect_untouched(lb_, echo_request(kClient6, kVip6, 56), XDP_PASS, DF_PASS_L4_PROTO);
}

// ---------------------------------------------------------------- too big

TEST_F(IcmpTest, Ipv4TooBigIsAnsweredWithFragmentationNeeded) {
  lb_.update_config([](df_config& c) { c.max_pkt_size = 1500; });
  Bytes in = segment(kClient4, kVip4, 1500);
  Bytes out = Packet()
                  .eth(kRouterMac, kBalancerMac)
                  .ipv4({.src = kVip4, .dst = kClient4, .ttl = 64, .frag_off = 0x4000})
                  .icmp({.type = kUnreachable4, .code = kFragNeeded, .rest = 1480})
                  .payload(head(l3_of(in), 548))
                  .bytes();
  expect(in, XDP_TX, DF_TX_ICMP_TOO_BIG, out);
  EXPECT_EQ(last_.size(), 14u + 576) << "the answer quotes up to 576 bytes (RFC 1812)";
  EXPECT_EQ(icmp_rest(last_), 1480u) << "1480 + 20 of IPIP fits 1500";
  EXPECT_TRUE(icmp_checksum_verifies(last_));
  EXPECT_EQ(ipv4_header_checksum(&last_[14], 20), 0);
  EXPECT_EQ(lb_.real_stats(1).packets, 0u);
}

TEST_F(IcmpTest, Ipv4TooBigForAnIpv6RealNamesTheLargerOverhead) {
  lb_.set_ring(vip4_, {3});
  lb_.update_config([](df_config& c) { c.max_pkt_size = 1500; });
  RunResult r = lb_.run(segment(kClient4, kVip4, 1461));
  EXPECT_EQ(r.verdict, XDP_TX);
  EXPECT_EQ(icmp_rest(r.frame), 1460u) << "1460 + 40 of IPv6 fits 1500";
  EXPECT_EQ(lb_.run(segment(kClient4, kVip4, 1460)).verdict, XDP_TX);
  EXPECT_EQ(lb_.global_stats().reason[DF_TX], 1u) << "1460 bytes went to the real";
}

TEST_F(IcmpTest, Ipv6TooBigIsAnsweredWithPacketTooBig) {
  lb_.update_config([](df_config& c) { c.max_pkt_size = 1500; });
  Bytes in = segment(kClient6, kVip6, 1500);
  Bytes out = Packet()
                  .eth(kRouterMac, kBalancerMac)
                  .ipv6({.src = kVip6, .dst = kClient6, .hop_limit = 64})
                  .icmp({.type = kTooBig6, .rest = 1460})
                  .payload(head(l3_of(in), 1232))
                  .bytes();
  expect(in, XDP_TX, DF_TX_ICMP_TOO_BIG, out);
  EXPECT_EQ(last_.size(), 14u + 1280) << "the answer fills the minimum MTU (RFC 4443)";
  EXPECT_EQ(icmp_rest(last_), 1460u);
  EXPECT_TRUE(icmp_checksum_verifies(last_));
}

TEST_F(IcmpTest, ShortTooBigPacketIsQuotedWholeWithoutItsPadding) {
  lb_.update_config([](df_config& c) { c.max_pkt_size = 100; });
  Bytes in = segment(kClient4, kVip4, 120);
  Bytes padded = in;
  padded.insert(padded.end(), 10, 0xee);  // Ethernet padding after the IP packet
  Bytes out = Packet()
                  .eth(kRouterMac, kBalancerMac)
                  .ipv4({.src = kVip4, .dst = kClient4, .ttl = 64, .frag_off = 0x4000})
                  .icmp({.type = kUnreachable4, .code = kFragNeeded, .rest = 80})
                  .payload(l3_of(in))
                  .bytes();
  expect(padded, XDP_TX, DF_TX_ICMP_TOO_BIG, out);
}

TEST_F(IcmpTest, TooBigNamesNoMtuBelowTheFamilysMinimum) {
  lb_.update_config([](df_config& c) { c.max_pkt_size = 60; });
  EXPECT_EQ(icmp_rest(lb_.run(segment(kClient4, kVip4, 100)).frame), 68u);
  lb_.update_config([](df_config& c) { c.max_pkt_size = 1300; });
  EXPECT_EQ(icmp_rest(lb_.run(segment(kClient6, kVip6, 1400)).frame), 1280u);
}

TEST_F(IcmpTest, Ipv4TooBigWithoutDfIsDroppedUnanswered) {
  lb_.update_config([](df_config& c) { c.max_pkt_size = 1500; });
  Bytes in = segment(kClient4, kVip4, 1500, 0);
  expect(in, XDP_DROP, DF_DROP_TOO_BIG, in);
}

TEST_F(IcmpTest, UdpTooBigIsAnsweredToo) {
  lb_.update_config([](df_config& c) { c.max_pkt_size = 1000; });
  Bytes in = Packet()
                 .eth(kBalancerMac, kRouterMac)
                 .ipv4({.src = kClient4, .dst = kVip4, .frag_off = 0x4000})
                 .udp({.sport = 5353, .dport = 53})
                 .payload(pattern(1000))
                 .bytes();
  RunResult r = lb_.run(in);
  EXPECT_EQ(r.verdict, XDP_TX);
  EXPECT_EQ(icmp_rest(r.frame), 980u);
  EXPECT_EQ(Bytes(r.frame.begin() + 42, r.frame.end()), head(l3_of(in), 548));
}

// ---------------------------------------------------------------- errors to the flow's real

TEST_F(IcmpTest, ErrorGoesToTheRealInTheConnectionTable) {
  for (const Side& f : sides()) {
    SCOPED_TRACE(f.vip);
    ASSERT_EQ(lb_.run(segment(f.client, f.vip, 80)).verdict, XDP_TX);  // the flow, on real a
    lb_.set_ring(f.vip_id, {f.ring_id});                               // the ring now says b
    expect(f.error, XDP_TX, DF_TX_ICMP_ERROR, encapsulated(f.error, f.key, f.table_real));
    EXPECT_EQ(lb_.real_stats(f.table_id).packets, 2u);
  }
  EXPECT_EQ(lb_.conn_count(), 2u) << "the two flows' own entries, nothing more";
}

TEST_F(IcmpTest, ErrorOfAFlowOnlyTheRingKnowsGoesToTheRingsReal) {
  for (const Side& f : sides()) {
    SCOPED_TRACE(f.vip);
    lb_.set_ring(f.vip_id, {f.ring_id});
    expect(f.error, XDP_TX, DF_TX_ICMP_ERROR, encapsulated(f.error, f.key, f.ring_real));
  }
  EXPECT_EQ(lb_.conn_count(), 0u) << "an error never makes a connection-table entry";
  df_global_stats s = lb_.global_stats();
  EXPECT_EQ(s.conn_hit + s.conn_miss + s.hash_decisions, 0u);
}

TEST_F(IcmpTest, Ipv6DestinationUnreachableGoesToTheFlowsReal) {
  Bytes in = error(kVip6, {.type = kUnreachable6, .code = 3}, head(reply(kVip6, kClient6), 1232));
  auto key = flow_key(kClient6, 40000, kVip6, 80, IPPROTO_TCP);
  expect(in, XDP_TX, DF_TX_ICMP_ERROR, encapsulated(in, key, kReal6a));
}

TEST_F(IcmpTest, Ipv4PortUnreachableAboutAUdpReplyGoesToTheFlowsReal) {
  lb_.set_ring(udp4_, {2});
  Bytes in = error(kVip4, {.type = kUnreachable4, .code = 3},
                   head(reply(kVip4, kClient4, 53, true), 28));  // the minimum quote: IP + 8
  auto key = flow_key(kClient4, 5353, kVip4, 53, IPPROTO_UDP);
  expect(in, XDP_TX, DF_TX_ICMP_ERROR, encapsulated(in, key, kReal4b));
}

TEST_F(IcmpTest, ErrorAboutAnIpv4VipsFlowGoesToAnIpv6Real) {
  lb_.set_ring(vip4_, {3});
  Bytes in = frag_needed(1400, reply(kVip4, kClient4));
  auto key = flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP);
  expect(in, XDP_TX, DF_TX_ICMP_ERROR, encapsulated(in, key, kReal6a));
}

TEST_F(IcmpTest, ErrorAboutAnAnyPortVipsFlowGoesToItsReal) {
  uint32_t any = lb_.add_vip(kVip4, DF_VIP_ANY_PORT, IPPROTO_TCP);
  lb_.set_ring(any, {2});
  Bytes in = frag_needed(1400, reply(kVip4, kClient4, 8080));
  auto key = flow_key(kClient4, 40000, kVip4, 8080, IPPROTO_TCP);
  expect(in, XDP_TX, DF_TX_ICMP_ERROR, encapsulated(in, key, kReal4b));
  Bytes exact = frag_needed(1400, reply(kVip4, kClient4, 80));
  expect(exact, XDP_TX, DF_TX_ICMP_ERROR,
         encapsulated(exact, flow_key(kClient4, 40000, kVip4, 80, IPPROTO_TCP), kReal4a));
  EXPECT_EQ(lb_.vip_stats(any).packets, 1u);
}

TEST_F(IcmpTest, ErrorsAboutAPrefixVipsFlowsGoToTheirReals) {
  const uint32_t p4 = lb_.add_prefix_vip("10.120.1.0/24", 80, IPPROTO_TCP);
  const uint32_t p6 = lb_.add_prefix_vip("fd00:120::/64", DF_VIP_ANY_PORT, IPPROTO_TCP);
  lb_.set_ring(p4, {2});
  lb_.set_ring(p6, {4});
  const std::string a4 = "10.120.1.7", a6 = "fd00:120::7";
  Bytes in4 = error(a4, {.type = kUnreachable4, .code = kFragNeeded, .rest = 1400},
                    head(reply(a4, kClient4), 576 - 28));
  expect(in4, XDP_TX, DF_TX_ICMP_ERROR,
         encapsulated(in4, flow_key(kClient4, 40000, a4, 80, IPPROTO_TCP), kReal4b));
  Bytes in6 =
      error(a6, {.type = kTooBig6, .rest = 1280}, head(reply(a6, kClient6, 8443), 1280 - 48));
  expect(in6, XDP_TX, DF_TX_ICMP_ERROR,
         encapsulated(in6, flow_key(kClient6, 40000, a6, 8443, IPPROTO_TCP), kReal6b));
  EXPECT_EQ(lb_.vip_stats(p4).packets, 1u);
  EXPECT_EQ(lb_.vip_stats(p6).packets, 1u);
  // The prefix holds the address, not the port: an error about port 22 is no VIP's flow.
  expect_untouched(lb_,
                   error(a4, {.type = kUnreachable4, .code = kFragNeeded, .rest = 1400},
                         head(reply(a4, kClient4, 22), 576 - 28)),
                   XDP_PASS, DF_PASS_ICMP_NO_FLOW);
}

TEST_F(IcmpTest, EchoToAnAddressOfAPrefixVipIsAnswered) {
  lb_.set_ring(lb_.add_prefix_vip("10.120.1.0/24", 80, IPPROTO_TCP), {1});
  RunResult r = lb_.run(echo_request(kClient4, "10.120.1.200", 56));
  EXPECT_EQ(r.verdict, XDP_TX);
  EXPECT_TRUE(icmp_checksum_verifies(r.frame));
  expect_untouched(lb_, echo_request(kClient4, "10.120.2.1", 56), XDP_PASS, DF_PASS_NOT_VIP);
}

TEST_F(IcmpTest, ErrorsTurnedOffGoToTheStack) {
  lb_.update_config([](df_config& c) { c.icmp_off = DF_ICMP_NO_ERRORS; });
  expect_untouched(lb_, frag_needed(1280, reply(kVip4, kClient4)), XDP_PASS, DF_PASS_L4_PROTO);
  expect_untouched(lb_, too_big6(1280, reply(kVip6, kClient6)), XDP_PASS, DF_PASS_L4_PROTO);
}

TEST_F(IcmpTest, ErrorTooBigToEncapsulateIsDroppedUnanswered) {
  lb_.update_config([](df_config& c) { c.max_pkt_size = 1300; });  // 1280 + 40 does not fit
  expect_untouched(lb_, too_big6(1280, reply(kVip6, kClient6)), XDP_DROP, DF_DROP_TOO_BIG);
}

// ---------------------------------------------------------------- malformed, and not ours

struct Case {
  const char* name;
  Bytes frame;
  int verdict;
  df_reason reason;
};

Bytes with_byte(Bytes b, size_t at, uint8_t value) {
  b[at] = value;
  return b;
}

// An IPv4 frame whose header was edited, with its header checksum right again.
Bytes ipv4_checksum_fixed(Bytes b) {
  b[14 + 10] = b[14 + 11] = 0;
  const uint16_t c = ipv4_header_checksum(&b[14], 20);
  b[14 + 10] = c >> 8;
  b[14 + 11] = c & 0xff;
  return b;
}

std::vector<Case> malformed_cases() {
  const Bytes q4 = reply(kVip4, kClient4), q6 = reply(kVip6, kClient6);
  const Bytes fn = frag_needed(1280, q4), tb = too_big6(1280, q6);
  auto quote_from = [](const std::string& src, const std::string& dst, uint16_t sport) {
    Packet p;
    if (is_v6(src))
      p.ipv6({.src = src, .dst = dst});
    else
      p.ipv4({.src = src, .dst = dst, .frag_off = 0x4000});
    return p.tcp({.sport = sport, .dport = 40000}).bytes();
  };
  Bytes echo_reply4 = Packet()
                          .ipv4({.src = kVip4, .dst = kClient4})
                          .icmp({.type = kEchoReply4})
                          .payload(pattern(8))
                          .bytes();
  Bytes options_quote = Packet()
                            .ipv4({.src = kVip4, .dst = kClient4, .options = {1, 1, 1, 0}})
                            .tcp({.sport = 80, .dport = 40000})
                            .bytes();
  Bytes later_fragment = Packet()
                             .ipv4({.src = kVip4, .dst = kClient4, .frag_off = 0x00b9})
                             .payload(pattern(28))
                             .bytes();
  Bytes ext_quote = Packet()
                        .ipv6({.src = kVip6, .dst = kClient6})
                        .ipv6_ext({.type = IPPROTO_HOPOPTS})
                        .tcp({.sport = 80, .dport = 40000})
                        .bytes();
  Bytes short_icmp = Packet()
                         .eth(kBalancerMac, kRouterMac)
                         .ipv4({.src = kRouter4, .dst = kVip4, .proto = IPPROTO_ICMP})
                         .payload(Bytes{kUnreachable4, kFragNeeded, 0, 0})
                         .bytes();
  Bytes tot_len_short = with_byte(fn, 14 + 3, 40);  // IP length ends inside the quote
  tot_len_short[14 + 2] = 0;
  return {
      // The quote cut short before the 8 bytes of TCP every error carries.
      {"v4_quote_short_of_l4", error(kVip4, {.type = kUnreachable4}, head(q4, 24)), XDP_DROP,
       DF_DROP_ICMP_QUOTE},
      {"v6_quote_short_of_l4", error(kVip6, {.type = kTooBig6, .rest = 1280}, head(q6, 44)),
       XDP_DROP, DF_DROP_ICMP_QUOTE},
      {"v4_quote_short_of_ip", error(kVip4, {.type = kUnreachable4}, head(q4, 12)), XDP_DROP,
       DF_DROP_ICMP_QUOTE},
      {"v6_quote_short_of_ip", error(kVip6, {.type = kUnreachable6}, head(q6, 30)), XDP_DROP,
       DF_DROP_ICMP_QUOTE},
      {"v4_icmp_header_short", short_icmp, XDP_DROP, DF_DROP_TRUNCATED_L4},
      {"v4_ip_length_ends_in_the_quote", ipv4_checksum_fixed(tot_len_short), XDP_DROP,
       DF_DROP_BAD_L3},
      // Quotes of packets no VIP sent, or that cannot be read as a VIP's flow.
      {"v4_quote_from_another_address",
       error(kVip4, {.type = kUnreachable4}, quote_from("10.100.0.2", kClient4, 80)), XDP_DROP,
       DF_DROP_ICMP_QUOTE},
      {"v6_quote_from_another_address",
       error(kVip6, {.type = kTooBig6, .rest = 1280}, quote_from("fd00:100::2", kClient6, 80)),
       XDP_DROP, DF_DROP_ICMP_QUOTE},
      {"v4_quote_of_no_vip_port",
       error(kVip4, {.type = kUnreachable4}, quote_from(kVip4, kClient4, 8080)), XDP_PASS,
       DF_PASS_ICMP_NO_FLOW},
      {"v6_quote_of_no_vip_port",
       error(kVip6, {.type = kUnreachable6}, quote_from(kVip6, kClient6, 8080)), XDP_PASS,
       DF_PASS_ICMP_NO_FLOW},
      {"v4_quote_of_an_echo_reply", error(kVip4, {.type = kUnreachable4}, echo_reply4), XDP_PASS,
       DF_PASS_ICMP_NO_FLOW},
      {"v4_quote_with_ip_options", error(kVip4, {.type = kUnreachable4}, options_quote), XDP_DROP,
       DF_DROP_ICMP_QUOTE},
      {"v4_quote_of_a_later_fragment", error(kVip4, {.type = kUnreachable4}, later_fragment),
       XDP_DROP, DF_DROP_ICMP_QUOTE},
      {"v6_quote_with_an_extension_header", error(kVip6, {.type = kUnreachable6}, ext_quote),
       XDP_DROP, DF_DROP_ICMP_QUOTE},
      {"v4_error_quoting_ipv6", error(kVip4, {.type = kUnreachable4}, head(q6, 60)), XDP_DROP,
       DF_DROP_ICMP_QUOTE},
      // A bad checksum: an error would go to a real picked by bytes no one vouches for.
      {"v4_error_bad_checksum", with_byte(fn, 14 + 20 + 2, fn[14 + 20 + 2] ^ 1), XDP_DROP,
       DF_DROP_ICMP_CHECKSUM},
      {"v6_error_bad_checksum", with_byte(tb, 14 + 40 + 3, tb[14 + 40 + 3] ^ 0x80), XDP_DROP,
       DF_DROP_ICMP_CHECKSUM},
      {"v4_error_quote_bit_flipped", with_byte(fn, fn.size() - 1, fn.back() ^ 4), XDP_DROP,
       DF_DROP_ICMP_CHECKSUM},
      {"v4_echo_bad_checksum", with_byte(echo_request(kClient4, kVip4, 56), 14 + 20 + 8, 0),
       XDP_DROP, DF_DROP_ICMP_CHECKSUM},
      {"v6_echo_bad_checksum", with_byte(echo_request(kClient6, kVip6, 56), 14 + 40 + 9, 0),
       XDP_DROP, DF_DROP_ICMP_CHECKSUM},
      // Not the balancer's: to no VIP address, or a type it leaves to the stack.
      {"v4_echo_to_no_vip_address", echo_request(kClient4, "10.9.9.9", 56), XDP_PASS,
       DF_PASS_NOT_VIP},
      {"v6_error_to_no_vip_address",
       error("fd00:9::9", {.type = kTooBig6, .rest = 1280}, head(q6, 100)), XDP_PASS,
       DF_PASS_NOT_VIP},
      {"v4_echo_reply_to_a_vip", error(kVip4, {.type = kEchoReply4}, pattern(8)), XDP_PASS,
       DF_PASS_L4_PROTO},
      {"v4_time_exceeded_to_a_vip", error(kVip4, {.type = 11}, head(q4, 28)), XDP_PASS,
       DF_PASS_L4_PROTO},
      {"v6_icmpv4_type_numbers_mean_nothing", error(kVip6, {.type = kUnreachable4}, head(q6, 48)),
       XDP_PASS, DF_PASS_L4_PROTO},
  };
}

class MalformedIcmp : public IcmpTest, public ::testing::WithParamInterface<Case> {};

TEST_P(MalformedIcmp, IsPassedOrDroppedUntouchedWithItsReason) {
  const Case& c = GetParam();
  expect_untouched(lb_, c.frame, c.verdict, c.reason);
  for (uint32_t real = 1; real <= 4; real++) EXPECT_EQ(lb_.real_stats(real).packets, 0u);
}

INSTANTIATE_TEST_SUITE_P(Frames, MalformedIcmp, ::testing::ValuesIn(malformed_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace dogfish::testing
