// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
//
// dogfish-bench: nanoseconds per packet of the balancer's paths, measured with
// BPF_PROG_TEST_RUN. Each path runs behind bench_wrapper (bench.bpf.c), which
// restores the frame before every iteration and tail-calls the program under
// test; the figure reported is wrapper+program minus wrapper+empty program.
// After every run the program's own counters must show that each iteration
// took the path named, or the bench fails. With --katran, Katran's balancer
// object is timed the same way in the same runs. bench/README.md has the method.

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dogfish/abi.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/utsname.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "baseline_target.hpp"
#include "bench.skel.h"
#include "bench_abi.h"
#include "dogfish/base/address.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/base/skeleton.hpp"
#include "dogfish/base/version.hpp"
#include "dogfish_target.hpp"
#include "katran_target.hpp"
#include "support/packet.hpp"
#include "target.hpp"

namespace dogfish::bench {
namespace {

// ---------------------------------------------------------------- packets

using Frame = std::array<uint8_t, DF_BENCH_FRAME_LEN>;

const testing::Mac kBalancerMac = {0x02, 0xdf, 0x00, 0x00, 0x00, 0x01};
const testing::Mac kClientMac = {0x02, 0xdf, 0x00, 0x00, 0x00, 0x02};

IpAddress addr(const char* text) { return *IpAddress::parse(text); }

// A built frame in the wrapper's fixed-size buffer; shorter ones end in zero padding.
Frame to_frame(const testing::Bytes& bytes) {
  Frame f{};
  std::copy(bytes.begin(), bytes.begin() + std::min(bytes.size(), f.size()), f.begin());
  return f;
}

enum class L4 { tcp_syn, tcp_ack, udp, icmp_echo };

// An Ethernet frame from the client to dst, DF_BENCH_FRAME_LEN long: a SYN carries the usual
// options and ends in Ethernet padding; other packets carry a payload that fills the frame.
// Checksums are right (the packet builder's): dogfish checks an echo request's.
Frame make_frame(const IpAddress& src, const IpAddress& dst, L4 l4, uint16_t sport,
                 uint16_t dport) {
  using namespace dogfish::testing;
  Packet p;
  p.eth(kBalancerMac, kClientMac);
  if (dst.is_v4())
    p.ipv4({.src = src.to_string(), .dst = dst.to_string(), .frag_off = 0x4000});  // DF
  else
    p.ipv6({.src = src.to_string(), .dst = dst.to_string()});
  if (l4 == L4::icmp_echo) {
    p.icmp({.type = uint8_t(dst.is_v4() ? 8 : 128), .rest = uint32_t{sport} << 16});  // id
  } else if (l4 == L4::udp) {
    p.udp({.sport = sport, .dport = dport});
  } else if (l4 == L4::tcp_syn) {
    // MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
    p.tcp({.sport = sport,
           .dport = dport,
           .flags = tcp_flags::SYN,
           .seq = 0x10000000,
           .options = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7},
           .window = 64240});
  } else {
    p.tcp({.sport = sport,
           .dport = dport,
           .flags = tcp_flags::ACK,
           .seq = 0x20000000,  // no ACK answers a SYN
           .ack = 0x20,
           .window = 64240});
  }
  if (l4 != L4::tcp_syn) p.fill_to(DF_BENCH_FRAME_LEN);
  return to_frame(p.bytes());
}

// A router's "fragmentation needed" to the VIP, quoting the VIP's answer to client:cport
// (as much as fills the frame), checksum right: an error the balancer sends to the real.
Frame make_frag_needed(const IpAddress& vip, const IpAddress& client, uint16_t cport) {
  using namespace dogfish::testing;
  Packet p;
  p.eth(kBalancerMac, kClientMac)
      .ipv4({.src = "10.0.2.1", .dst = vip.to_string(), .frag_off = 0x4000})  // a router
      .icmp({.type = 3, .code = 4, .rest = 1280})  // fragmentation needed, next-hop MTU
      // The answer was a full-size segment.
      .ipv4({.src = vip.to_string(), .dst = client.to_string(), .ttl = 63, .tot_len = 1500})
      .tcp({.sport = Service::tcp_port, .dport = cport, .flags = tcp_flags::ACK});
  return to_frame(p.fill_to(DF_BENCH_FRAME_LEN).bytes());
}

// ---------------------------------------------------------------- paths

struct Path {
  const char* name;
  const char* what;
  PathKind kind;
  Frame frame;
  bool bump_src;  // a new IPv4 source address each iteration
  uint32_t xdp_ret;
  uint32_t out_len;  // frame length after the program
};

std::vector<Path> all_paths() {
  using S = Service;
  const IpAddress c4 = addr(S::client4), c6 = addr(S::client6);
  const IpAddress v4 = addr(S::vip4), v6 = addr(S::vip6), nv4 = addr(S::not_vip4);
  const uint32_t tx4 = DF_BENCH_FRAME_LEN + 20, tx6 = DF_BENCH_FRAME_LEN + 40;
  auto f = [](const IpAddress& s, const IpAddress& d, L4 l4, uint16_t sport, uint16_t dport) {
    return make_frame(s, d, l4, sport, dport);
  };
  return {
      {"syn_new_flow", "IPv4 TCP SYN, one tuple", PathKind::syn_fixed,
       f(c4, v4, L4::tcp_syn, 40000, S::tcp_port), false, XDP_TX, tx4},
      {"syn_random", "IPv4 TCP SYN, a new source each packet", PathKind::syn_random,
       f(c4, v4, L4::tcp_syn, 40007, S::tcp_port), true, XDP_TX, tx4},
      {"lru_hit", "IPv4 TCP ACK of a flow in the table", PathKind::table_hit,
       f(c4, v4, L4::tcp_ack, 40001, S::tcp_port), false, XDP_TX, tx4},
      {"nonsyn_miss", "IPv4 TCP ACK, a new source each packet", PathKind::nonsyn_miss,
       f(c4, v4, L4::tcp_ack, 40002, S::tcp_port), true, XDP_TX, tx4},
      {"udp", "IPv4 UDP of a flow in the table", PathKind::udp_hit,
       f(c4, v4, L4::udp, 40003, S::udp_port), false, XDP_TX, tx4},
      {"udp_random", "IPv4 UDP, a new source each packet", PathKind::udp_random,
       f(c4, v4, L4::udp, 40008, S::udp_port), true, XDP_TX, tx4},
      {"non_vip_pass", "IPv4 TCP to an address without a VIP", PathKind::not_vip,
       f(c4, nv4, L4::tcp_ack, 40004, S::tcp_port), false, XDP_PASS, DF_BENCH_FRAME_LEN},
      {"v6_syn", "IPv6 TCP SYN, one tuple, IPv6 real", PathKind::v6_syn,
       f(c6, v6, L4::tcp_syn, 40005, S::tcp_port), false, XDP_TX, tx6},
      {"v6_hit", "IPv6 TCP ACK of a flow in the table", PathKind::v6_hit,
       f(c6, v6, L4::tcp_ack, 40006, S::tcp_port), false, XDP_TX, tx6},
      // dogfish's own: answered in place, or the error to the flow's real.
      {"icmp_echo", "IPv4 echo request to a VIP address: answered", PathKind::icmp_echo,
       f(c4, v4, L4::icmp_echo, 7, 0), false, XDP_TX, DF_BENCH_FRAME_LEN},
      {"v6_icmp_echo", "IPv6 echo request to a VIP address: answered", PathKind::v6_icmp_echo,
       f(c6, v6, L4::icmp_echo, 7, 0), false, XDP_TX, DF_BENCH_FRAME_LEN},
      {"too_big", "IPv4 TCP ACK of a flow in the table, too big: frag needed", PathKind::too_big,
       f(c4, v4, L4::tcp_ack, 40009, S::tcp_port), false, XDP_TX, DF_BENCH_FRAME_LEN + 28},
      {"v6_too_big", "IPv6 TCP ACK of a flow in the table, too big: packet too big",
       PathKind::v6_too_big, f(c6, v6, L4::tcp_ack, 40010, S::tcp_port), false, XDP_TX,
       DF_BENCH_FRAME_LEN + 48},
      {"icmp_to_real", "IPv4 frag needed about a flow the table lacks: to the ring's real",
       PathKind::icmp_to_real, make_frag_needed(v4, c4, 40011), false, XDP_TX, tx4},
      {"any_port_hit", "IPv4 TCP ACK of a flow in the table, to an any-port VIP",
       PathKind::any_port_hit, f(c4, addr(S::any_port_vip4), L4::tcp_ack, 40012, S::any_port_asked),
       false, XDP_TX, tx4},
      {"prefix_hit", "IPv4 TCP ACK of a flow in the table, to an address of a prefix VIP",
       PathKind::prefix_hit, f(c4, addr(S::prefix_asked4), L4::tcp_ack, 40013, S::tcp_port), false,
       XDP_TX, tx4},
      // GUE: lru_hit and v6_hit to reals that take GUE (+8 bytes; IPv6 sums its UDP checksum).
      {"gue_hit", "IPv4 TCP ACK of a flow in the table, to a GUE real", PathKind::gue_hit,
       f(c4, addr(S::gue_vip4), L4::tcp_ack, 40014, S::tcp_port), false, XDP_TX, tx4 + 8},
      {"v6_gue_hit", "IPv6 TCP ACK of a flow in the table, to a GUE real", PathKind::v6_gue_hit,
       f(c6, addr(S::gue_vip6), L4::tcp_ack, 40015, S::tcp_port), false, XDP_TX, tx6 + 8},
  };
}

// ---------------------------------------------------------------- the bench

struct Options {
  int iterations = 1000000;
  int runs = 5;
  uint32_t conn_entries = 8000000;
  int cpu = -1;
  bool json = false;
  std::vector<std::string> only;
  std::string katran_object;
  std::string katran_prog = "balancer_ingress";
  std::string baseline_object;
  uint32_t insert_rate = DF_DEFAULT_CONN_INSERT_RATE;
  bool prefill = false;
  bool cpu_move = false;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Result {
  std::vector<double> nets, raws, bases;
  std::vector<uint8_t> first;                  // the frame the warm-up iteration left
  bool empty() const { return nets.empty(); }  // a path the target does not have
  double net() const { return median(nets); }
  double net_min() const { return *std::min_element(nets.begin(), nets.end()); }
};

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  check_call(sched_setaffinity(0, sizeof(set), &set), fmt::format("pinning to CPU {}", cpu));
}

double thread_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// One frame through the wrapper `repeat` times, in front of whatever the target slot holds.
class Wrapper {
 public:
  Wrapper() {
    skel_.load();
    skel_->bss->src_next = 0x0b000000;  // 11.0.0.0 on: never the client of another path
  }

  int empty_fd() const { return bpf_program__fd(skel_->progs.bench_empty); }
  int floor_fd() const { return bpf_program__fd(skel_->progs.bench_floor_xdp_tx); }

  void select(const Frame& frame, bool bump_src, int prog_fd) {
    std::memcpy(skel_->bss->frame, frame.data(), frame.size());
    skel_->bss->bump_src = bump_src;
    uint32_t zero = 0;
    check_call(bpf_map_update_elem(bpf_map__fd(skel_->maps.target), &zero, &prog_fd, BPF_ANY),
               "set the wrapper's target");
  }

  struct Out {
    double ns;                   // per iteration
    std::vector<uint8_t> frame;  // as the last iteration left it
  };

  // The program must return want_ret with a frame of want_len bytes. Time is the
  // thread's CPU time, which keeps fractions of a ns and leaves out preemption.
  Out run(const std::string& what, const Frame& frame, int repeat, uint32_t want_ret,
          uint32_t want_len) {
    std::array<uint8_t, DF_BENCH_FRAME_LEN + 64> out{};
    bpf_test_run_opts o{};
    o.sz = sizeof(o);
    o.data_in = frame.data();
    o.data_size_in = frame.size();
    o.data_out = out.data();
    o.data_size_out = out.size();
    o.repeat = repeat;
    const double t0 = thread_ns();
    check_call(bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.bench_wrapper), &o),
               fmt::format("BPF_PROG_TEST_RUN ({})", what));
    const double t1 = thread_ns();
    if (o.retval != want_ret || o.data_size_out != want_len)
      throw std::runtime_error(fmt::format("{}: returned {} with {} bytes, want {} with {} bytes",
                                           what, o.retval, o.data_size_out, want_ret, want_len));
    if (log_verbose())
      fmt::print(stderr, "{}: repeat {}: kernel {} ns, thread {:.2f} ns\n", what, repeat,
                 o.duration, (t1 - t0) / repeat);
    return {(t1 - t0) / repeat, std::vector<uint8_t>(out.begin(), out.begin() + o.data_size_out)};
  }

 private:
  Skeleton<bench_bpf> skel_{{bench_bpf__open, bench_bpf__load, bench_bpf__destroy}};
};

class Bench {
 public:
  Bench(const Options& opt, std::vector<std::unique_ptr<Target>> targets)
      : opt_(opt), targets_(std::move(targets)) {}

  const std::vector<std::unique_ptr<Target>>& targets() const { return targets_; }

  // Before the runs: the path's packet once, so the flows of the hit paths are in
  // the table. Its output is what every later iteration must produce too.
  void warm(const Path& path, Target& t, Result& res) {
    t.before_warm(path.kind);
    wrapper_.select(path.frame, path.bump_src, t.prog_fd());
    res.first = wrapper_.run(label(path, t), path.frame, 1, path.xdp_ret, path.out_len).frame;
    t.after_warm(path.kind);
  }

  // Run r of a path on a target: wrapper+empty, then wrapper+program, then the proof.
  void measure(const Path& path, Target& t, Result& res, int r) {
    const std::string what = label(path, t);
    const std::vector<uint8_t> input(path.frame.begin(), path.frame.end());
    wrapper_.select(path.frame, path.bump_src, wrapper_.empty_fd());
    const auto base = wrapper_.run(what, path.frame, opt_.iterations, XDP_PASS, DF_BENCH_FRAME_LEN);

    // Warm again: the random paths' new flows may have pushed this path's out of the table.
    warm(path, t, res);
    wrapper_.select(path.frame, path.bump_src, t.prog_fd());
    const Counts before = t.counters();
    const auto raw = wrapper_.run(what, path.frame, opt_.iterations, path.xdp_ret, path.out_len);
    const Counts after = t.counters();
    // A new source each iteration changes the bytes; the counters prove that path.
    if (!path.bump_src && (base.frame != input || raw.frame != res.first))
      throw std::runtime_error(
          fmt::format("{}: run {}: the last iteration's frame differs from the first's", what, r));
    const std::string bad = verify_counts(t, path.kind, before, after, opt_.iterations);
    if (!bad.empty())
      throw std::runtime_error(fmt::format(
          "{}: run {}: the counters say not every iteration took this path:{}", what, r, bad));
    res.bases.push_back(base.ns);
    res.raws.push_back(raw.ns);
    res.nets.push_back(raw.ns - base.ns);
  }

  // Fills the table with `count` flows the way random ACKs do, the guard off.
  // In chunks a flood guard lets through, each after letting inserts in again (Katran's
  // stops remembering above 125k new flows a second).
  void prefill(const Path& miss, Target& t, uint32_t count) {
    constexpr uint32_t kChunk = 100000;
    t.before_warm(miss.kind);
    wrapper_.select(miss.frame, true, t.prog_fd());
    for (uint32_t done = 0; done < count; done += kChunk) {
      t.before_prefill();
      wrapper_.run("prefill", miss.frame, std::min(kChunk, count - done), miss.xdp_ret,
                   miss.out_len);
    }
    t.after_warm(miss.kind);
  }

  // One packet of a path through a program on one CPU: the frame it sent.
  std::vector<uint8_t> send_on(int cpu, const Path& path, Target& t) {
    pin_to(cpu);
    wrapper_.select(path.frame, false, t.prog_fd());
    return wrapper_.run(label(path, t), path.frame, 1, path.xdp_ret, path.out_len).frame;
  }

  // The floor: swap MACs and XDP_TX, no balancer behind the wrapper.
  void measure_floor(const Frame& frame, Result& res) {
    wrapper_.select(frame, false, wrapper_.empty_fd());
    const auto base = wrapper_.run("floor", frame, opt_.iterations, XDP_PASS, DF_BENCH_FRAME_LEN);
    wrapper_.select(frame, false, wrapper_.floor_fd());
    const auto raw = wrapper_.run("floor", frame, opt_.iterations, XDP_TX, DF_BENCH_FRAME_LEN);
    res.bases.push_back(base.ns);
    res.raws.push_back(raw.ns);
    res.nets.push_back(raw.ns - base.ns);
  }

 private:
  static std::string label(const Path& p, const Target& t) {
    return fmt::format("{} ({})", p.name, t.name());
  }

  const Options& opt_;
  std::vector<std::unique_ptr<Target>> targets_;
  Wrapper wrapper_;
};

// ---------------------------------------------------------------- a flow that moves CPU

// "N", or "N + M" for a table per CPU.
std::string table_entries_text(const Target& t) {
  std::string text;
  for (size_t n : t.table_entries()) text += fmt::format("{}{}", text.empty() ? "" : " + ", n);
  return text;
}

// The outer IPv4 destination of an IPIP frame: the real it went to.
std::string outer_dst4(const std::vector<uint8_t>& frame) {
  return fmt::format("{}.{}.{}.{}", frame.at(30), frame.at(31), frame.at(32), frame.at(33));
}

// What a flow gets when its packets move from one CPU to another (RSS change, IRQ
// rebalancing) after its VIP's ring changed: an ACK of a flow on cpu_a (remembered
// there), the ring pointed at the other real, then the same ACK on cpu_b and on cpu_a.
int cpu_move(const Options& opt, Bench& bench, const std::vector<Path>& paths) {
  const int ncpu = libbpf_num_possible_cpus();
  const int cpu_a = opt.cpu >= 0 ? opt.cpu : 0, cpu_b = (cpu_a + 1) % ncpu;
  if (ncpu < 2) throw std::runtime_error("--cpu-move needs two CPUs");
  const Path& ack = *std::find_if(paths.begin(), paths.end(),
                                  [](const Path& p) { return p.kind == PathKind::table_hit; });
  fmt::print(
      "cpu-move: one TCP flow's ACK on CPU {0}; its VIP's ring pointed at the other real; the "
      "same ACK on CPU {1}, then on CPU {0} again\n",
      cpu_a, cpu_b);
  fmt::print("{:<9} {:>14} {:>14} {:>14}  {}\n", "program", fmt::format("CPU {}", cpu_a),
             fmt::format("CPU {}", cpu_b), fmt::format("CPU {} again", cpu_a),
             "table entries (per table)");
  for (const auto& t : bench.targets()) {
    if (t->name() == "baseline") continue;
    t->before_warm(ack.kind);
    const std::string first = outer_dst4(bench.send_on(cpu_a, ack, *t));
    t->point_ring_at(first == Service::real4[0] ? 2 : 1);  // the other real
    t->before_warm(ack.kind);
    const std::string moved = outer_dst4(bench.send_on(cpu_b, ack, *t));
    const std::string back = outer_dst4(bench.send_on(cpu_a, ack, *t));
    fmt::print("{:<9} {:>14} {:>14} {:>14}  {}\n", t->name(), first, moved, back,
               table_entries_text(*t));
  }
  return 0;
}

// ---------------------------------------------------------------- what it was built with

std::string kernel_release() {
  utsname u{};
  uname(&u);
  return u.release;
}

nlohmann::ordered_json build_info(const Options& opt) {
  return {{"build_type", DF_BUILD_TYPE},        {"cxx", DF_BUILD_CXX},
          {"cxx_flags", DF_BUILD_CXX_FLAGS},    {"bpf_cflags", DF_BUILD_BPF_CFLAGS},
          {"kernel", kernel_release()},         {"conn_entries", opt.conn_entries},
          {"iterations", opt.iterations},       {"runs", opt.runs},
          {"katran_object", opt.katran_object}, {"baseline_object", opt.baseline_object}};
}

// ---------------------------------------------------------------- output

using Results = std::vector<std::pair<const Path*, std::vector<Result>>>;  // per target

// The median of run-by-run ratios a / b: the two programs ran one after the other in each
// run, so a burst of load from elsewhere lands on both and cancels.
double paired_ratio(const Result& a, const Result& b) {
  if (a.empty() || a.nets.size() != b.nets.size()) return std::nan("");
  std::vector<double> r;
  for (size_t i = 0; i < a.nets.size(); i++) r.push_back(a.nets[i] / b.nets[i]);
  return median(r);
}

void print_table(const Results& results, const Result& floor, const Bench& bench,
                 const Options& opt) {
  const auto& targets = bench.targets();
  const nlohmann::ordered_json info = build_info(opt);
  fmt::print(
      "dogfish-bench: {} runs x {} iterations, medians, ns/packet; net = wrapper+program "
      "- wrapper+empty\n",
      opt.runs, opt.iterations);
  fmt::print("built: {} ({} {}); BPF: {}; kernel {}; connection tables of {} entries\n",
             info["build_type"].get<std::string>(), info["cxx"].get<std::string>(),
             info["cxx_flags"].get<std::string>(), info["bpf_cflags"].get<std::string>(),
             info["kernel"].get<std::string>(), opt.conn_entries);
  if (!opt.katran_object.empty()) fmt::print("katran: {}\n", opt.katran_object);
  if (!opt.baseline_object.empty()) fmt::print("baseline: {}\n", opt.baseline_object);
  // Ratios of dogfish (column 0) to Katran's figure, and to the baseline build's.
  auto index_of = [&](const char* name) {
    for (size_t i = 0; i < targets.size(); i++)
      if (targets[i]->name() == name) return int(i);
    return -1;
  };
  const int katran = index_of("katran"), baseline = index_of("baseline");
  std::string head = fmt::format("{:<14}", "path");
  for (const auto& t : targets) head += fmt::format(" {:>9} {:>8}", t->name(), "min");
  if (katran >= 0) head += fmt::format(" {:>7}  {}", "ratio", "<= 0.8");
  if (baseline >= 0) head += fmt::format(" {:>8}", "/baseline");
  fmt::print("{}\n", head);
  for (const auto& [p, per_target] : results) {
    std::string line = fmt::format("{:<14}", p->name);
    for (const Result& r : per_target)
      line += r.empty() ? fmt::format(" {:>9} {:>8}", "-", "-")
                        : fmt::format(" {:>9.1f} {:>8.1f}", r.net(), r.net_min());
    auto ratio_to = [&](int i) {
      return per_target[0].empty() || per_target[i].empty()
                 ? std::nan("")
                 : per_target[0].net() / per_target[i].net();
    };
    if (katran >= 0) {
      const double ratio = ratio_to(katran);
      line += std::isnan(ratio) ? fmt::format(" {:>7}  ", "-")
                                : fmt::format(" {:>7.2f}  {}", ratio, ratio <= 0.8 ? "ok" : "MISS");
    }
    if (baseline >= 0)
      line += fmt::format(" {:>9.3f}", paired_ratio(per_target[0], per_target[baseline]));
    fmt::print("{}\n", line);
  }
  fmt::print("{:<14} {:>9.1f} {:>8.1f}   (swap MACs, XDP_TX: no balancer)\n", "floor_xdp_tx",
             floor.net(), floor.net_min());
  if (log_verbose())
    for (const auto& [p, per_target] : results)
      for (size_t i = 0; i < per_target.size(); i++)
        if (!per_target[i].empty())
          fmt::print("{:<14} {:<8} raw {:.1f} base {:.1f}\n", p->name, targets[i]->name(),
                     median(per_target[i].raws), median(per_target[i].bases));
  fmt::print(
      "proof: in every run of every path each program's counters matched N x the path's deltas,\n"
      "       and (but for the random-source paths) the last frame matched the first byte for "
      "byte\n");
}

void print_json(const Results& results, const Result& floor, const Bench& bench,
                const Options& opt) {
  nlohmann::ordered_json paths = nlohmann::ordered_json::object();
  for (const auto& [p, per_target] : results) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (size_t i = 0; i < per_target.size(); i++)
      if (!per_target[i].empty())
        j[bench.targets()[i]->name()] = std::round(per_target[i].net() * 100) / 100;
    paths[p->name] = j;
  }
  paths["floor_xdp_tx"] = {{"floor", std::round(floor.net() * 100) / 100}};
  fmt::print("{}\n", nlohmann::ordered_json{{"build", build_info(opt)}, {"paths", paths}}.dump());
}

int run(const Options& opt) {
  // Pinned: a per-CPU table (Katran's) must see the warm-up and the runs on one CPU.
  pin_to(opt.cpu >= 0 ? opt.cpu : sched_getcpu());
  const std::vector<Path> paths = all_paths();
  for (const auto& name : opt.only)
    if (std::none_of(paths.begin(), paths.end(), [&](const Path& p) { return name == p.name; }))
      throw std::invalid_argument(fmt::format("no path named {}", name));

  std::vector<std::unique_ptr<Target>> targets;
  std::vector<double> load_s;
  auto timed = [&](auto make) {
    timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    targets.push_back(make());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    load_s.push_back((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  };
  timed([&] { return std::make_unique<DogfishTarget>(opt.conn_entries, opt.insert_rate); });
  if (!opt.katran_object.empty())
    timed([&] {
      return std::make_unique<KatranTarget>(opt.katran_object, opt.katran_prog, opt.conn_entries);
    });
  if (!opt.baseline_object.empty())
    timed([&] {
      return std::make_unique<BaselineTarget>(opt.baseline_object,
                                              static_cast<DogfishTarget&>(*targets.front()));
    });
  if (!opt.json) {
    for (size_t i = 0; i < targets.size(); i++) {
      if (targets[i]->name() == "baseline")
        fmt::print("baseline: loaded in {:.2f} s, over dogfish's maps\n", load_s[i]);
      else
        fmt::print("{}: loaded in {:.2f} s; connection table {:.0f} MiB, {:.0f} bytes an entry\n",
                   targets[i]->name(), load_s[i], targets[i]->table_bytes() / 1048576.0,
                   double(targets[i]->table_bytes()) / opt.conn_entries);
    }
  }
  Bench bench(opt, std::move(targets));
  if (opt.cpu_move) return cpu_move(opt, bench, paths);

  Results results;
  for (const auto& p : paths)
    if (opt.only.empty() || std::find(opt.only.begin(), opt.only.end(), p.name) != opt.only.end())
      results.emplace_back(&p, std::vector<Result>(bench.targets().size()));
  Result floor;
  if (opt.prefill)
    for (const auto& t : bench.targets()) {
      if (t->name() == "baseline") continue;  // dogfish's table
      bench.prefill(*std::find_if(paths.begin(), paths.end(),
                                  [](const Path& p) { return p.kind == PathKind::nonsyn_miss; }),
                    *t, opt.conn_entries);
      if (!opt.json) fmt::print("{}: prefilled: {} entries\n", t->name(), table_entries_text(*t));
    }
  // Round robin over the paths and programs: a burst of noise from the rest of
  // the machine lands on one run of many, which their medians discard. The programs
  // take turns going first: the first after another path pays for what that path left
  // in the caches and branch predictors.
  const size_t n = bench.targets().size();
  for (int r = 1; r <= opt.runs; r++) {
    for (auto& [p, per_target] : results)
      for (size_t k = 0; k < n; k++) {
        const size_t i = r % 2 ? k : n - 1 - k;
        if (bench.targets()[i]->handles(p->kind))
          bench.measure(*p, *bench.targets()[i], per_target[i], r);
      }
    bench.measure_floor(paths.front().frame, floor);
  }
  if (opt.json)
    print_json(results, floor, bench, opt);
  else
    print_table(results, floor, bench, opt);
  return 0;
}

}  // namespace

}  // namespace dogfish::bench

int main(int argc, char** argv) {
  dogfish::bench::Options opt;
  CLI::App app{
      "dogfish-bench: ns/packet of the balancer's paths via BPF_PROG_TEST_RUN.\n"
      "Each figure is the median over runs of (wrapper+program) - (wrapper+empty);\n"
      "each program's counters must prove every iteration took its path."};
  app.set_version_flag("--version", dogfish::version_text("dogfish-bench"));
  app.add_option("-n,--iterations", opt.iterations, "iterations per run")
      ->check(CLI::Range(1000, 1 << 30));
  app.add_option("-r,--runs", opt.runs, "runs per path (the median is reported)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--conn-entries", opt.conn_entries,
                 "connection-table entries, for every program (Katran: split over the CPUs)")
      ->check(CLI::Range(1024u, 1u << 26))
      ->capture_default_str();
  app.add_option("--katran", opt.katran_object,
                 "Katran's balancer object (its own build's balancer.bpf.o): time it too")
      ->check(CLI::ExistingFile);
  app.add_option("--katran-prog", opt.katran_prog, "the program in that object")
      ->capture_default_str();
  app.add_option("--baseline", opt.baseline_object,
                 "another build of dogfish's balancer.bpf.o (main's, say): timed too, over the "
                 "same maps")
      ->check(CLI::ExistingFile);
  app.add_option("--insert-rate", opt.insert_rate,
                 "dogfish's flood guard: table entries a CPU may write per second from misses "
                 "(0: no limit)")
      ->capture_default_str();
  app.add_flag("--prefill", opt.prefill,
               "before the runs, put as many flows in each table as it has entries");
  app.add_option("--cpu", opt.cpu, "pin the bench to this CPU (default: the one it starts on)");
  app.add_flag("--cpu-move", opt.cpu_move,
               "instead of timing: where a remembered flow's packets go when they move CPU "
               "after its VIP's ring changed (from --cpu, default 0, to the next CPU)");
  app.add_option("--only", opt.only, "run just these paths")->delimiter(',');
  app.add_flag("--json", opt.json, "print JSON: what it was built with, path -> program -> net ns");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "per-run figures and libbpf's debug log");
  CLI11_PARSE(app, argc, argv);

  dogfish::set_log_program("dogfish-bench");
  dogfish::set_log_verbose(verbose);
  dogfish::route_libbpf_log();
  try {
    return dogfish::bench::run(opt);
  } catch (const std::exception& e) {
    fmt::print(stderr, "dogfish-bench: {}\n", e.what());
    return 1;
  }
}
