// Golden-packet tests of the decap programs: the real decap.bpf.o and
// tc_decap.bpf.o, each case run through BPF_PROG_TEST_RUN on fresh maps, the
// verdict and the whole output frame compared byte for byte.
//
// With --bench (or DOGFISH_DECAP_BENCH=1) the binary instead prints ns/packet
// per mode and packet kind; nothing asserts a time.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dogfish/base/abi_names.hpp"
#include "loader.hpp"
#include "packet.hpp"
#include "skeleton.hpp"

namespace dogfish::decap::test {
namespace {

enum class Verdict { kPass, kDrop };

const char* name(Mode m) { return m == Mode::kXdp ? "xdp" : "tc"; }

// Addresses of the cases: the real's (ours), another host's, the balancers' outer
// sources, one just outside their prefix and a stranger's, the client, the VIPs.
const std::string kOurs4 = "10.0.0.2", kOther4 = "10.0.0.9", kLb4 = "172.16.0.1";
const std::string kNextToLb4 = "172.32.0.1", kStranger4 = "203.0.113.9";
const std::string kOurs6 = "fd00::2", kOther6 = "fd00::9", kLb6 = "fd00:ac10::1";
const std::string kStranger6 = "2001:db8:bad::9";
const std::string kClient4 = "192.0.2.10", kVip4 = "198.51.100.1", kOtherVip4 = "198.51.100.99";
const std::string kClient6 = "2001:db8::10", kVip6 = "2001:db8:100::1",
                  kOtherVip6 = "2001:db8:100::99";

// One program and its maps, loaded fresh (no pins); destroyed with it.
class Program {
 public:
  explicit Program(Mode mode) : mode_(mode), skel_(mode) {
    skel_.load();
    prog_ = bpf_program__fd(skel_.prog());
    addrs_ = skel_.map_fd("decap_addrs");
    config_ = skel_.map_fd("decap_config");
    stats_ = skel_.map_fd("decap_stats");
  }

  // Our addresses, the balancers' source prefixes (the cases' kLb4 and kLb6 are in them) and
  // the VIPs as allowed inner destinations (used only with DF_DECAP_CHECK_INNER_DST).
  void configure_as_a_real() {
    add_addr(kOurs4);
    add_addr(kOurs6);
    add_source(parse_prefix("172.16.0.0/12"));
    add_source(parse_prefix("fd00:ac10::/32"));
    add_inner_dst(parse_addr(kVip4));
    add_inner_dst(parse_addr(kVip6));
  }

  void add_source(const df_decap_prefix& key) {
    uint32_t one = 1;
    ASSERT_EQ(bpf_map_update_elem(skel_.map_fd("decap_sources"), &key, &one, BPF_ANY), 0);
  }

  void add_inner_dst(const df_decap_addr& key) {
    uint32_t one = 1;
    ASSERT_EQ(bpf_map_update_elem(skel_.map_fd("decap_inner_dsts"), &key, &one, BPF_ANY), 0);
  }

  void add_addr(const std::string& text) {
    df_decap_addr key{};
    if (inet_pton(AF_INET, text.c_str(), key.addr) == 1) {
      key.family = DF_FAMILY_V4;
    } else {
      ASSERT_EQ(inet_pton(AF_INET6, text.c_str(), key.addr), 1) << text;
      key.family = DF_FAMILY_V6;
    }
    uint32_t one = 1;
    ASSERT_EQ(bpf_map_update_elem(addrs_, &key, &one, BPF_ANY), 0) << text;
  }

  void configure(uint32_t flags, uint16_t gue_port = DF_DEFAULT_GUE_PORT) {
    uint32_t zero = 0;
    df_decap_config cfg{.flags = flags, .gue_port = htons(gue_port), .pad = 0};
    ASSERT_EQ(bpf_map_update_elem(config_, &zero, &cfg, BPF_ANY), 0);
  }

  // Runs the program once (or `repeat` times); returns the verdict and the frame it left.
  struct Result {
    Verdict verdict;
    Bytes frame;
    uint32_t duration_ns;
  };
  Result run(const Bytes& in, uint32_t repeat = 1) {
    Bytes out(in.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = out.data(),
                .data_size_in = static_cast<uint32_t>(in.size()),
                .data_size_out = static_cast<uint32_t>(out.size()),
                .repeat = static_cast<int>(repeat));
    int err = bpf_prog_test_run_opts(prog_, &opts);
    if (err) throw std::runtime_error(std::string("bpf_prog_test_run_opts: ") + strerror(-err));
    out.resize(opts.data_size_out);
    bool pass = mode_ == Mode::kXdp ? opts.retval == XDP_PASS : opts.retval == TC_ACT_OK;
    bool drop = mode_ == Mode::kXdp ? opts.retval == XDP_DROP : opts.retval == TC_ACT_SHOT;
    if (!pass && !drop)
      throw std::runtime_error("unexpected return value " + std::to_string(opts.retval));
    return {pass ? Verdict::kPass : Verdict::kDrop, out, opts.duration};
  }

  // The per-CPU counters summed.
  df_decap_stats stats() {
    int cpus = libbpf_num_possible_cpus();
    std::vector<df_decap_stats> per_cpu(cpus);
    uint32_t zero = 0;
    df_decap_stats sum{};
    if (bpf_map_lookup_elem(stats_, &zero, per_cpu.data())) throw std::runtime_error("stats");
    for (const auto& s : per_cpu) {
      for (int r = 0; r < DF_DECAP_REASON_MAX; r++) sum.reason[r] += s.reason[r];
      for (int t = 0; t < DF_DECAP_TYPES; t++) sum.decap_bytes[t] += s.decap_bytes[t];
    }
    return sum;
  }

 private:
  Mode mode_;
  Skeleton skel_;
  int prog_ = -1, addrs_ = -1, config_ = -1, stats_ = -1;
};

Bytes inner4(const std::string& vip = kVip4) {
  return ipv4(kClient4, vip, IPPROTO_TCP, tcp_syn(kClient4, vip, 40000, 80));
}
Bytes inner6(const std::string& vip = kVip6) {
  return ipv6(kClient6, vip, IPPROTO_TCP, tcp_syn(kClient6, vip, 40000, 80));
}
Bytes in4in4(const std::string& dst, const std::string& src = kLb4, const Bytes& in = inner4()) {
  return cat(eth(kEthIp), ipv4(src, dst, IPPROTO_IPIP, in));
}
Bytes in6in6(const std::string& dst, const std::string& src = kLb6, const Bytes& in = inner6()) {
  return cat(eth(kEthIpv6), ipv6(src, dst, IPPROTO_IPV6, in));
}
Bytes in4in6(const std::string& dst, const std::string& src = kLb6, const Bytes& in = inner4()) {
  return cat(eth(kEthIpv6), ipv6(src, dst, IPPROTO_IPIP, in));
}
// A router's too-big error about a real's reply, which the balancer sends on to the real.
Bytes error4() {
  return icmp_too_big("203.0.113.1", kVip4,
                      ipv4(kVip4, kClient4, IPPROTO_TCP, tcp_syn(kVip4, kClient4, 80, 40000)));
}
Bytes error6() {
  return icmp_too_big("2001:db8:ff::1", kVip6,
                      ipv6(kVip6, kClient6, IPPROTO_TCP, tcp_syn(kVip6, kClient6, 80, 40000)));
}
// GUE (direct IP): the inner packet right after a UDP header to the GUE port, from a source
// port the balancer picks per flow; no UDP checksum over IPv4, one over IPv6.
constexpr uint16_t kGueSport = 0xc123;
Bytes gue(const std::string& src, const std::string& dst, const Bytes& in,
          uint16_t dport = DF_DEFAULT_GUE_PORT) {
  const bool v6 = dst.find(':') != std::string::npos;
  return v6 ? cat(eth(kEthIpv6), ipv6(src, dst, IPPROTO_UDP, udp(src, dst, kGueSport, dport, in)))
            : cat(eth(kEthIp),
                  ipv4(src, dst, IPPROTO_UDP, udp(src, dst, kGueSport, dport, in, false)));
}
Bytes gue4in4(const std::string& dst, const std::string& src = kLb4, const Bytes& in = inner4()) {
  return gue(src, dst, in);
}
Bytes gue6in6(const std::string& dst, const std::string& src = kLb6, const Bytes& in = inner6()) {
  return gue(src, dst, in);
}
Bytes gue4in6(const std::string& dst, const std::string& src = kLb6, const Bytes& in = inner4()) {
  return gue(src, dst, in);
}
Bytes plain4() { return cat(eth(kEthIp), inner4()); }
Bytes plain6() { return cat(eth(kEthIpv6), inner6()); }
Bytes truncate(Bytes b, size_t len) {
  b.resize(len);
  return b;
}

struct Case {
  std::string description;
  Bytes in;
  Verdict verdict;
  Bytes out;  // the expected frame
  df_decap_reason reason;
  uint32_t flags = 0;  // config flags
  // BPF_PROG_TEST_RUN of an skb program refuses (EINVAL) a frame whose IP header
  // is cut short, so the tc program cannot be shown such a frame here.
  bool tc_test_run_refuses = false;
  uint16_t gue_port = DF_DEFAULT_GUE_PORT;  // 0: GUE off
};

Bytes with_byte(Bytes b, size_t off, uint8_t v) {
  b[off] = v;
  return b;
}

std::vector<Case> cases() {
  const size_t kEth = 14;
  return {
      {"4in4 to us: outer IPv4 stripped", in4in4(kOurs4), Verdict::kPass, plain4(),
       DF_DECAP_DECAP_4IN4},
      {"6in6 to us: outer IPv6 stripped", in6in6(kOurs6), Verdict::kPass, plain6(),
       DF_DECAP_DECAP_6IN6},
      {"4in6 to us: outer IPv6 stripped, EtherType becomes IPv4", in4in6(kOurs6), Verdict::kPass,
       plain4(), DF_DECAP_DECAP_4IN6},
      {"4in4 with outer IPv4 options: all 24 bytes stripped",
       cat(eth(kEthIp), ipv4(kLb4, kOurs4, IPPROTO_IPIP, inner4(), 4)), Verdict::kPass, plain4(),
       DF_DECAP_DECAP_4IN4},
      {"4in4 of an ICMP fragmentation needed: stripped like any packet",
       cat(eth(kEthIp), ipv4(kLb4, kOurs4, IPPROTO_IPIP, error4())), Verdict::kPass,
       cat(eth(kEthIp), error4()), DF_DECAP_DECAP_4IN4},
      {"6in6 of an ICMPv6 packet too big: stripped like any packet",
       cat(eth(kEthIpv6), ipv6(kLb6, kOurs6, IPPROTO_IPV6, error6())), Verdict::kPass,
       cat(eth(kEthIpv6), error6()), DF_DECAP_DECAP_6IN6},
      {"4in6 of an ICMP fragmentation needed: stripped like any packet",
       cat(eth(kEthIpv6), ipv6(kLb6, kOurs6, IPPROTO_IPIP, error4())), Verdict::kPass,
       cat(eth(kEthIp), error4()), DF_DECAP_DECAP_4IN6},
      {"plain IPv4 TCP passes untouched", plain4(), Verdict::kPass, plain4(),
       DF_DECAP_PASS_NOT_ENCAP},
      {"plain IPv6 TCP passes untouched", plain6(), Verdict::kPass, plain6(),
       DF_DECAP_PASS_NOT_ENCAP},
      {"ARP passes untouched", cat(eth(kEthArp), Bytes(28, 0x11)), Verdict::kPass,
       cat(eth(kEthArp), Bytes(28, 0x11)), DF_DECAP_PASS_NOT_IP},
      {"outer IPv4 truncated: passes untouched", truncate(in4in4(kOurs4), kEth + 12),
       Verdict::kPass, truncate(in4in4(kOurs4), kEth + 12), DF_DECAP_PASS_TRUNCATED, 0, true},
      {"outer IPv6 truncated: passes untouched", truncate(in6in6(kOurs6), kEth + 30),
       Verdict::kPass, truncate(in6in6(kOurs6), kEth + 30), DF_DECAP_PASS_TRUNCATED, 0, true},
      {"4in4 inner header truncated: dropped",
       truncate(in4in4(kOurs4), kEth + 20 + 12),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_TRUNCATED_INNER},
      {"6in6 inner header truncated: dropped",
       truncate(in6in6(kOurs6), kEth + 40 + 39),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_TRUNCATED_INNER},
      {"4in6 inner header truncated: dropped",
       truncate(in4in6(kOurs6), kEth + 40 + 19),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_TRUNCATED_INNER},
      {"4in4 to an address not ours: passes untouched", in4in4(kOther4), Verdict::kPass,
       in4in4(kOther4), DF_DECAP_PASS_NOT_OURS},
      {"6in6 to an address not ours: passes untouched", in6in6(kOther6), Verdict::kPass,
       in6in6(kOther6), DF_DECAP_PASS_NOT_OURS},
      {"4in4 to any address in accept-any mode: stripped", in4in4(kOther4), Verdict::kPass,
       plain4(), DF_DECAP_DECAP_4IN4, DF_DECAP_ACCEPT_ANY},
      {"6in6 to any address in accept-any mode: stripped", in6in6(kOther6), Verdict::kPass,
       plain6(), DF_DECAP_DECAP_6IN6, DF_DECAP_ACCEPT_ANY},
      {"4in4 whose inner is IPv6: dropped",
       cat(eth(kEthIp), ipv4(kLb4, kOurs4, IPPROTO_IPIP, inner6())),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_BAD_INNER},
      {"outer IPv4 fragment to us: dropped",
       with_byte(in4in4(kOurs4), kEth + 6, 0x20),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_BAD_OUTER},
      {"outer IPv4 longer than the frame: dropped",
       with_byte(in4in4(kOurs4), kEth + 2, 0x7f),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_BAD_OUTER},
      {"outer IPv6 payload longer than the frame: dropped",
       with_byte(in6in6(kOurs6), kEth + 4, 0x7f),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_BAD_OUTER},
      // Who may tunnel to us (issue 17): only the balancers, and with CHECK_INNER_DST only to
      // the allowed inner destinations. A refusal is a drop with its own reason.
      {"4in4 from a stranger: refused",
       in4in4(kOurs4, kStranger4),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_SOURCE},
      {"4in4 from just outside the balancers' prefix: refused",
       in4in4(kOurs4, kNextToLb4),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_SOURCE},
      {"6in6 from a stranger: refused",
       in6in6(kOurs6, kStranger6),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_SOURCE},
      {"4in6 from a stranger: refused",
       in4in6(kOurs6, kStranger6),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_SOURCE},
      {"4in4 from a stranger with any-source: stripped", in4in4(kOurs4, kStranger4), Verdict::kPass,
       plain4(), DF_DECAP_DECAP_4IN4, DF_DECAP_ANY_SOURCE},
      {"4in4 from a stranger to an address not ours: passes untouched", in4in4(kOther4, kStranger4),
       Verdict::kPass, in4in4(kOther4, kStranger4), DF_DECAP_PASS_NOT_OURS},
      {"4in4 to an allowed inner destination: stripped", in4in4(kOurs4), Verdict::kPass, plain4(),
       DF_DECAP_DECAP_4IN4, DF_DECAP_CHECK_INNER_DST},
      {"4in4 to an inner destination not allowed: refused",
       in4in4(kOurs4, kLb4, inner4(kOtherVip4)),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_INNER_DST,
       DF_DECAP_CHECK_INNER_DST},
      {"6in6 to an inner destination not allowed: refused",
       in6in6(kOurs6, kLb6, inner6(kOtherVip6)),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_INNER_DST,
       DF_DECAP_CHECK_INNER_DST},
      {"4in6 to an inner destination not allowed: refused",
       in4in6(kOurs6, kLb6, inner4(kOtherVip4)),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_INNER_DST,
       DF_DECAP_CHECK_INNER_DST},
      {"4in4 to any inner destination without the check: stripped",
       in4in4(kOurs4, kLb4, inner4(kOtherVip4)), Verdict::kPass,
       cat(eth(kEthIp), inner4(kOtherVip4)), DF_DECAP_DECAP_4IN4},
      // GUE: UDP to the GUE port, the inner packet's first nibble its version.
      {"GUE 4in4 to us: outer IPv4 and UDP stripped", gue4in4(kOurs4), Verdict::kPass, plain4(),
       DF_DECAP_DECAP_GUE_4IN4},
      {"GUE 6in6 to us: outer IPv6 and UDP stripped", gue6in6(kOurs6), Verdict::kPass, plain6(),
       DF_DECAP_DECAP_GUE_6IN6},
      {"GUE 4in6 to us: stripped, EtherType becomes IPv4", gue4in6(kOurs6), Verdict::kPass,
       plain4(), DF_DECAP_DECAP_GUE_4IN6},
      {"GUE 4in4 with outer IPv4 options: all 24 + 8 bytes stripped",
       cat(eth(kEthIp),
           ipv4(kLb4, kOurs4, IPPROTO_UDP,
                udp(kLb4, kOurs4, kGueSport, DF_DEFAULT_GUE_PORT, inner4(), false), 4)),
       Verdict::kPass, plain4(), DF_DECAP_DECAP_GUE_4IN4},
      {"GUE 6in6 of an ICMPv6 packet too big: stripped like any packet",
       gue6in6(kOurs6, kLb6, error6()), Verdict::kPass, cat(eth(kEthIpv6), error6()),
       DF_DECAP_DECAP_GUE_6IN6},
      {"GUE on another configured port: stripped", gue(kLb4, kOurs4, inner4(), 7777),
       Verdict::kPass, plain4(), DF_DECAP_DECAP_GUE_4IN4, 0, false, 7777},
      {"UDP to another port: passes untouched", gue(kLb4, kOurs4, inner4(), 6081), Verdict::kPass,
       gue(kLb4, kOurs4, inner4(), 6081), DF_DECAP_PASS_NOT_ENCAP},
      {"UDP to the GUE port with GUE off: passes untouched", gue4in4(kOurs4), Verdict::kPass,
       gue4in4(kOurs4), DF_DECAP_PASS_NOT_ENCAP, 0, false, 0},
      {"GUE to an address not ours: passes untouched", gue6in6(kOther6), Verdict::kPass,
       gue6in6(kOther6), DF_DECAP_PASS_NOT_OURS},
      {"GUE to any address in accept-any mode: stripped", gue4in4(kOther4), Verdict::kPass,
       plain4(), DF_DECAP_DECAP_GUE_4IN4, DF_DECAP_ACCEPT_ANY},
      {"UDP fragment to the GUE port: the stack's", with_byte(gue4in4(kOurs4), kEth + 6, 0x20),
       Verdict::kPass, with_byte(gue4in4(kOurs4), kEth + 6, 0x20), DF_DECAP_PASS_NOT_ENCAP},
      {"UDP header cut short: passes untouched", truncate(gue4in4(kOurs4), kEth + 20 + 6),
       Verdict::kPass, truncate(gue4in4(kOurs4), kEth + 20 + 6), DF_DECAP_PASS_TRUNCATED, 0, true},
      {"GUE with a GUE header (variant 0): refused",
       gue(kLb4, kOurs4, cat(Bytes{0x00, 0x04, 0x00, 0x00}, inner4())),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_GUE_NOT_IP},
      {"GUE IPv6 in IPv4: refused",
       gue(kLb4, kOurs4, inner6()),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_GUE_NOT_IP},
      {"GUE without a payload: dropped",
       gue(kLb4, kOurs4, {}),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_TRUNCATED_INNER},
      {"GUE inner header truncated: dropped",
       truncate(gue6in6(kOurs6), kEth + 40 + 8 + 30),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_TRUNCATED_INNER},
      {"GUE whose UDP length runs past the packet: dropped",
       with_byte(gue4in4(kOurs4), kEth + 20 + 4, 0x7f),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_BAD_OUTER},
      {"GUE whose UDP length leaves no inner header: dropped",
       with_byte(with_byte(gue6in6(kOurs6), kEth + 40 + 4, 0), kEth + 40 + 5, 20),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_BAD_OUTER},
      {"GUE 4in4 from a stranger: refused",
       gue4in4(kOurs4, kStranger4),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_SOURCE},
      {"GUE 6in6 from a stranger: refused",
       gue6in6(kOurs6, kStranger6),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_SOURCE},
      {"GUE 4in6 to an inner destination not allowed: refused",
       gue4in6(kOurs6, kLb6, inner4(kOtherVip4)),
       Verdict::kDrop,
       {},
       DF_DECAP_DROP_INNER_DST,
       DF_DECAP_CHECK_INNER_DST},
  };
}

class Golden : public ::testing::TestWithParam<std::tuple<Mode, size_t>> {};

TEST_P(Golden, VerdictFrameAndReason) {
  auto [mode, index] = GetParam();
  Case c = cases()[index];
  SCOPED_TRACE(c.description);
  if (mode == Mode::kTc && c.tc_test_run_refuses)
    GTEST_SKIP() << "the kernel's skb test_run refuses a frame with a cut-short IP header";
  if (std::string old = kernel_without_tc_4in6();
      mode == Mode::kTc &&
      (c.reason == DF_DECAP_DECAP_4IN6 || c.reason == DF_DECAP_DECAP_GUE_4IN6) && !old.empty())
    GTEST_SKIP() << "tc strips 4in6 with bpf_skb_adjust_room's DECAP_L3 flag: kernel 6.3 or "
                    "later, this one is "
                 << old;
  Program prog(mode);
  prog.configure_as_a_real();
  prog.configure(c.flags, c.gue_port);

  auto result = prog.run(c.in);
  EXPECT_EQ(result.verdict, c.verdict) << (c.verdict == Verdict::kPass ? "want pass" : "want drop");
  if (c.verdict == Verdict::kPass) {
    EXPECT_TRUE(result.frame == c.out) << "output frame differs (* marks a difference)\ngot:\n"
                                       << hexdump(result.frame, c.out) << "want:\n"
                                       << hexdump(c.out, result.frame);
  }
  df_decap_stats st = prog.stats();
  for (int r = 0; r < DF_DECAP_REASON_MAX; r++)
    EXPECT_EQ(st.reason[r], r == c.reason ? 1u : 0u)
        << "reason " << dogfish::decap_reasons()[r].name;
}

std::string case_name(const ::testing::TestParamInfo<Golden::ParamType>& info) {
  auto [mode, index] = info.param;
  return std::string(name(mode)) + "_" + std::to_string(index);
}

INSTANTIATE_TEST_SUITE_P(Decap, Golden,
                         ::testing::Combine(::testing::Values(Mode::kXdp, Mode::kTc),
                                            ::testing::Range<size_t>(0, cases().size())),
                         case_name);

class Stats : public ::testing::TestWithParam<Mode> {};

// The counters move by exactly one per packet and by the frame's length per stripped type.
TEST_P(Stats, MoveByExactAmounts) {
  Program prog(GetParam());
  prog.configure_as_a_real();
  prog.configure(0);
  std::vector<Bytes> frames = {in4in4(kOurs4),  in4in4(kOurs4),  in6in6(kOurs6),
                               in4in6(kOurs6),  in4in4(kOther4), in6in6(kOther6),
                               in4in4(kOther4), plain4(),        truncate(in4in4(kOurs4), 40),
                               gue4in4(kOurs4), gue6in6(kOurs6), gue6in6(kOurs6),
                               gue4in6(kOurs6)};
  for (const auto& f : frames) prog.run(f);

  df_decap_stats st = prog.stats();
  std::map<int, uint64_t> want = {{DF_DECAP_DECAP_4IN4, 2},          {DF_DECAP_DECAP_6IN6, 1},
                                  {DF_DECAP_DECAP_4IN6, 1},          {DF_DECAP_DECAP_GUE_4IN4, 1},
                                  {DF_DECAP_DECAP_GUE_6IN6, 2},      {DF_DECAP_DECAP_GUE_4IN6, 1},
                                  {DF_DECAP_PASS_NOT_OURS, 3},       {DF_DECAP_PASS_NOT_ENCAP, 1},
                                  {DF_DECAP_DROP_TRUNCATED_INNER, 1}};
  // Before 6.3, tc cannot change the family: the 4in6 frames are dropped, and counted so.
  const bool no_4in6 = GetParam() == Mode::kTc && !kernel_without_tc_4in6().empty();
  if (no_4in6) {
    want.erase(DF_DECAP_DECAP_4IN6);
    want.erase(DF_DECAP_DECAP_GUE_4IN6);
    want[DF_DECAP_DROP_ADJUST] = 2;
  }
  for (int r = 0; r < DF_DECAP_REASON_MAX; r++)
    EXPECT_EQ(st.reason[r], want.count(r) ? want[r] : 0)
        << "reason " << dogfish::decap_reasons()[r].name;
  EXPECT_EQ(st.decap_bytes[DF_DECAP_DECAP_4IN4], 2 * in4in4(kOurs4).size());
  EXPECT_EQ(st.decap_bytes[DF_DECAP_DECAP_6IN6], in6in6(kOurs6).size());
  EXPECT_EQ(st.decap_bytes[DF_DECAP_DECAP_4IN6], no_4in6 ? 0 : in4in6(kOurs6).size());
  EXPECT_EQ(st.decap_bytes[DF_DECAP_DECAP_GUE_4IN4], gue4in4(kOurs4).size());
  EXPECT_EQ(st.decap_bytes[DF_DECAP_DECAP_GUE_6IN6], 2 * gue6in6(kOurs6).size());

  // Removing our address turns the same packet into a pass.
  prog.run(in4in4(kOther4));
  EXPECT_EQ(prog.stats().reason[DF_DECAP_PASS_NOT_OURS], 4u);
}

INSTANTIATE_TEST_SUITE_P(Decap, Stats, ::testing::Values(Mode::kXdp, Mode::kTc),
                         [](const auto& info) { return std::string(name(info.param)); });

// ns/packet per mode and kind. A stripping run changes the frame it runs on, so
// each packet is one BPF_PROG_TEST_RUN and the kernel's own timing of it (which
// includes the timer's overhead) is averaged: the "single" column. Kinds that
// leave the frame alone are also run with repeat, where that overhead is
// amortised: the "repeat" column; their difference is the overhead, and the
// "estimate" column is the single figure less that overhead.
int bench() {
  const int kRuns = 200000;
  const uint32_t kRepeat = 1000000;
  struct Kind {
    const char* name;
    Bytes frame;
    bool unchanged;
  };
  std::vector<Kind> kinds = {
      {"4in4", in4in4(kOurs4), false},     {"6in6", in6in6(kOurs6), false},
      {"4in6", in4in6(kOurs6), false},     {"not_encap", plain4(), true},
      {"not_ours", in4in4(kOther4), true}, {"gue_4in4", gue4in4(kOurs4), false},
      {"gue_6in6", gue6in6(kOurs6), false}};
  std::printf("%-5s %-10s %10s %10s %10s\n", "mode", "packet", "single", "repeat", "estimate");
  for (Mode mode : {Mode::kXdp, Mode::kTc}) {
    Program prog(mode);
    prog.configure_as_a_real();
    prog.configure(0);
    std::vector<double> single(kinds.size());
    std::vector<long> repeat(kinds.size(), -1);
    for (size_t i = 0; i < kinds.size(); i++) {
      uint64_t total = 0;
      for (int r = 0; r < kRuns; r++) total += prog.run(kinds[i].frame).duration_ns;
      single[i] = double(total) / kRuns;
      if (kinds[i].unchanged) repeat[i] = prog.run(kinds[i].frame, kRepeat).duration_ns;
    }
    // The timer's overhead in a single run, from the first kind measured both ways.
    double overhead = single[3] - repeat[3];
    for (size_t i = 0; i < kinds.size(); i++) {
      double estimate = repeat[i] >= 0 ? repeat[i] : single[i] - overhead;
      std::printf("%-5s %-10s %10.1f %10s %10.1f\n", name(mode), kinds[i].name, single[i],
                  repeat[i] >= 0 ? std::to_string(repeat[i]).c_str() : "-", estimate);
    }
  }
  return 0;
}

}  // namespace
}  // namespace dogfish::decap::test

int main(int argc, char** argv) {
  const char* env = std::getenv("DOGFISH_DECAP_BENCH");
  for (int i = 1; i < argc; i++)
    if (std::strcmp(argv[i], "--bench") == 0) return dogfish::decap::test::bench();
  if (env && std::strcmp(env, "1") == 0) return dogfish::decap::test::bench();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
