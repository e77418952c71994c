// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
//
// dogfish-bench: nanoseconds per packet of the balancer's paths, measured with
// BPF_PROG_TEST_RUN. Each path runs behind bench_wrapper (bench.bpf.c), which
// restores the frame before every iteration and tail-calls the program under
// test; the figure reported is wrapper+program minus wrapper+empty program.
// After every run the balancer's own counters must show that each iteration
// took the path named, or the bench fails. bench/README.md has the method.

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dogfish/abi.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <sched.h>

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
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench.skel.h"
#include "bench_abi.h"
#include "dogfish/base/address.hpp"
#include "dogfish/base/version.hpp"
#include "dogfish/bpf_data_plane.hpp"
#include "dogfish/config.hpp"

namespace {

// ---------------------------------------------------------------- errors

// An OS or libbpf failure: what was being done, and errno's text.
[[noreturn]] void fail_errno(const std::string& what, int err) {
  throw std::runtime_error(fmt::format("{}: {} (errno {})", what, std::strerror(err), err));
}

void check(int ret, const std::string& what) {
  if (ret < 0) fail_errno(what, ret == -1 ? errno : -ret);
}

bool g_verbose = false;

int libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !g_verbose) return 0;
  return std::vfprintf(stderr, format, args);
}

// ---------------------------------------------------------------- skeletons

template <typename Skel, void (*Destroy)(Skel*)>
struct SkelDeleter {
  void operator()(Skel* s) const { Destroy(s); }
};
using BenchSkel = std::unique_ptr<bench_bpf, SkelDeleter<bench_bpf, bench_bpf__destroy>>;

// ---------------------------------------------------------------- packets

using Frame = std::array<uint8_t, DF_BENCH_FRAME_LEN>;

constexpr uint8_t kBalancerMac[6] = {0x02, 0xdf, 0x00, 0x00, 0x00, 0x01};
constexpr uint8_t kClientMac[6] = {0x02, 0xdf, 0x00, 0x00, 0x00, 0x02};
constexpr uint8_t kGatewayMac[6] = {0x02, 0xdf, 0x00, 0x00, 0x00, 0xfe};

constexpr uint16_t kTcpPort = 80;
constexpr uint16_t kUdpPort = 53;

using Addr = dogfish::IpAddress;

Addr addr(const char* text) {
  auto a = Addr::parse(text);
  if (!a) throw std::invalid_argument(fmt::format("not an address: {}", text));
  return *a;
}

const Addr kVip4 = addr("10.0.0.10");
const Addr kVip6 = addr("fd00::10");
const Addr kNotVip4 = addr("10.0.0.99");
const Addr kClient4 = addr("10.0.1.1");
const Addr kClient6 = addr("fd00:1::1");
const Addr kReal4[] = {addr("10.100.0.1"), addr("10.100.0.2")};
const Addr kReal6[] = {addr("fd00:100::1"), addr("fd00:100::2")};

enum class L4 { tcp_syn, tcp_ack, udp };

void put16(uint8_t* p, uint16_t host) {
  p[0] = host >> 8;
  p[1] = host & 0xff;
}

uint16_t ipv4_csum(const uint8_t* h) {
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (h[i] << 8) | h[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// An Ethernet frame from the client to dst, DF_BENCH_FRAME_LEN long: a SYN
// carries the usual options and ends in zero padding; other packets carry a
// payload that fills the frame. L4 checksums are left zero: the balancer
// doesn't read them.
Frame make_frame(const Addr& src, const Addr& dst, L4 l4, uint16_t sport, uint16_t dport) {
  Frame f{};
  const bool v4 = dst.family == DF_FAMILY_V4;
  const size_t l3_hdr = v4 ? 20 : 40;
  const size_t l4_hdr = l4 == L4::udp ? 8 : l4 == L4::tcp_syn ? 40 : 20;
  const size_t l3_len = l4 == L4::tcp_syn ? l3_hdr + l4_hdr : f.size() - 14;
  uint8_t* p = f.data();

  std::memcpy(p, kBalancerMac, 6);
  std::memcpy(p + 6, kClientMac, 6);
  put16(p + 12, v4 ? 0x0800 : 0x86dd);
  uint8_t* ip = p + 14;
  const uint8_t proto = l4 == L4::udp ? IPPROTO_UDP : IPPROTO_TCP;
  if (v4) {
    ip[0] = 0x45;
    put16(ip + 2, l3_len);
    put16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = proto;
    std::memcpy(ip + 12, src.bytes.data(), 4);
    std::memcpy(ip + 16, dst.bytes.data(), 4);
    put16(ip + 10, ipv4_csum(ip));
  } else {
    ip[0] = 0x60;
    put16(ip + 4, l3_len - 40);
    ip[6] = proto;
    ip[7] = 64;
    std::memcpy(ip + 8, src.bytes.data(), 16);
    std::memcpy(ip + 24, dst.bytes.data(), 16);
  }
  uint8_t* th = ip + l3_hdr;
  put16(th, sport);
  put16(th + 2, dport);
  if (l4 == L4::udp) {
    put16(th + 4, l3_len - l3_hdr);
    return f;
  }
  put16(th + 4, 0x1000);  // sequence number
  th[12] = (l4_hdr / 4) << 4;
  th[13] = l4 == L4::tcp_syn ? 0x02 : 0x10;  // SYN, or ACK
  put16(th + 14, 64240);
  if (l4 == L4::tcp_syn) {
    static constexpr uint8_t opts[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
                                         0, 1, 0,    0,    0, 0, 1, 3,  3, 7};
    std::memcpy(th + 20, opts, sizeof(opts));
  } else {
    th[8] = 0x20;  // acknowledgement number
  }
  return f;
}

// ---------------------------------------------------------------- counters

// The balancer's global counters summed over CPUs: the proof of which path ran.
struct Counters {
  uint64_t reason[DF_REASON_MAX] = {};
  uint64_t conn_hit = 0, conn_miss = 0, conn_expired = 0, hash_decisions = 0;

  Counters operator-(const Counters& o) const {
    Counters d;
    for (int i = 0; i < DF_REASON_MAX; i++) d.reason[i] = reason[i] - o.reason[i];
    d.conn_hit = conn_hit - o.conn_hit;
    d.conn_miss = conn_miss - o.conn_miss;
    d.conn_expired = conn_expired - o.conn_expired;
    d.hash_decisions = hash_decisions - o.hash_decisions;
    return d;
  }
  uint64_t reasons() const {
    uint64_t n = 0;
    for (uint64_t r : reason) n += r;
    return n;
  }
};

Counters read_counters(const dogfish::BpfDataPlane& dp) {
  const df_global_stats s = dp.stats().global;  // summed over CPUs
  Counters c;
  for (int i = 0; i < DF_REASON_MAX; i++) c.reason[i] = s.reason[i];
  c.conn_hit = s.conn_hit;
  c.conn_miss = s.conn_miss;
  c.conn_expired = s.conn_expired;
  c.hash_decisions = s.hash_decisions;
  return c;
}

// What one iteration of a path adds to the counters (multiplied by the iterations).
struct Expect {
  int reason = DF_TX;
  uint64_t conn_hit = 0, conn_miss = 0, hash_decisions = 0;
};

// Empty when the deltas are exactly n times the expectation; otherwise what differs.
std::string verify(const Counters& d, const Expect& e, uint64_t n) {
  std::string bad;
  auto want = [&](const char* name, uint64_t got, uint64_t expected) {
    if (got != expected) bad += fmt::format(" {}={} (want {})", name, got, expected);
  };
  want("reason[expected]", d.reason[e.reason], n);
  want("reasons(all)", d.reasons(), n);
  want("conn_hit", d.conn_hit, e.conn_hit * n);
  want("conn_miss", d.conn_miss, e.conn_miss * n);
  want("conn_expired", d.conn_expired, 0);
  want("hash_decisions", d.hash_decisions, e.hash_decisions * n);
  return bad;
}

// ---------------------------------------------------------------- paths

struct Path {
  const char* name;
  const char* what;
  Frame frame;
  bool balancer;  // false: the floor program
  bool bump_src = false;
  std::optional<Expect> expect;  // the balancer's counters for one iteration
  uint32_t xdp_ret = XDP_TX;
  uint32_t out_len = DF_BENCH_FRAME_LEN;  // frame length after the program
  double katran = 0;  // Katran's figure measured the same way here, ns; 0 = none
  double target = 0;  // the goal, ns; 0 = none
};

std::vector<Path> all_paths() {
  const Frame syn4 = make_frame(kClient4, kVip4, L4::tcp_syn, 40000, kTcpPort);
  const Frame ack4 = make_frame(kClient4, kVip4, L4::tcp_ack, 40001, kTcpPort);
  const Frame miss4 = make_frame(kClient4, kVip4, L4::tcp_ack, 40002, kTcpPort);
  const Frame udp4 = make_frame(kClient4, kVip4, L4::udp, 40003, kUdpPort);
  const Frame pass4 = make_frame(kClient4, kNotVip4, L4::tcp_ack, 40004, kTcpPort);
  const Frame syn6 = make_frame(kClient6, kVip6, L4::tcp_syn, 40005, kTcpPort);
  const uint32_t v4_out = DF_BENCH_FRAME_LEN + 20, v6_out = DF_BENCH_FRAME_LEN + 40;

  return {
      {"syn_new_flow", "IPv4 TCP SYN to an IPv4 VIP, one tuple", syn4, true, false,
       Expect{.hash_decisions = 1}, XDP_TX, v4_out, 106, 0.8 * 106},
      {"lru_hit", "IPv4 TCP ACK of a flow in the connection table", ack4, true, false,
       Expect{.conn_hit = 1}, XDP_TX, v4_out, 125, 75},
      {"nonsyn_miss", "IPv4 TCP ACK of an unknown flow, new source each time", miss4, true, true,
       Expect{.conn_miss = 1, .hash_decisions = 1}, XDP_TX, v4_out, 0, 0},
      {"udp", "IPv4 UDP of a flow in the table, idle expiry on", udp4, true, false,
       Expect{.conn_hit = 1}, XDP_TX, v4_out, 164, 0.8 * 164},
      {"non_vip_pass", "IPv4 TCP to an address without a VIP", pass4, true, false,
       Expect{.reason = DF_PASS_NOT_VIP}, XDP_PASS, DF_BENCH_FRAME_LEN, 53, 0.8 * 53},
      {"v6_syn", "IPv6 TCP SYN to an IPv6 VIP, IPv6 real", syn6, true, false,
       Expect{.hash_decisions = 1}, XDP_TX, v6_out, 131, 0.8 * 131},
      {"floor_xdp_tx", "swap MACs, XDP_TX: the floor", ack4, false, false, std::nullopt, XDP_TX,
       DF_BENCH_FRAME_LEN, 0, 0},
  };
}

// ---------------------------------------------------------------- the bench

struct Options {
  int iterations = 1000000;
  int runs = 5;
  uint32_t conn_entries = DF_DEFAULT_CONN_ENTRIES;
  int cpu = -1;
  bool json = false;
  std::vector<std::string> only;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Result {
  double net = 0, raw = 0, base = 0;  // medians, ns per packet
  double net_min = 0;                 // the quietest run: how much of net is the machine's noise
  std::vector<double> nets, raws, bases;
  std::vector<uint8_t> first;  // the frame the warm-up iteration left

  void summarize() {
    net = median(nets);
    net_min = *std::min_element(nets.begin(), nets.end());
    raw = median(raws);
    base = median(bases);
  }
};

double thread_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

class Bench {
 public:
  explicit Bench(const Options& opt) : opt_(opt) {
    load_balancer();
    load_wrapper();
    configure_balancer();
  }

  // Before the runs: puts the path's packet through once, so the flows of lru_hit
  // and udp are in the table and the SYNs have their entry. Its output is what
  // every later iteration must produce too (the wrapper's proof).
  void warm(const Path& path, Result& res) {
    select(path);
    res.first = run(path, 1, path.xdp_ret, path.out_len).frame;
  }

  // Run r of a path: wrapper+empty, then wrapper+program, then the proof.
  void measure_run(const Path& path, Result& res, int r) {
    const std::vector<uint8_t> input(path.frame.begin(), path.frame.end());

    select(path, bpf_program__fd(bench_->progs.bench_empty));
    const RunOut base = run(path, opt_.iterations, XDP_PASS, DF_BENCH_FRAME_LEN);

    select(path);
    // Again before each run: nonsyn_miss's new flows may have pushed this path's flow
    // out of the connection table since.
    run(path, 1, path.xdp_ret, path.out_len);
    const Counters before = read_counters(*balancer_);
    const RunOut raw = run(path, opt_.iterations, path.xdp_ret, path.out_len);
    const Counters delta = read_counters(*balancer_) - before;
    // A new source each iteration changes the bytes; the counters prove that path.
    if (!path.bump_src && (base.frame != input || raw.frame != res.first))
      throw std::runtime_error(fmt::format(
          "{}: run {}: the last iteration's frame differs from the first's", path.name, r + 1));
    if (path.expect) {
      const std::string bad = verify(delta, *path.expect, opt_.iterations);
      if (!bad.empty())
        throw std::runtime_error(
            fmt::format("{}: run {}: the counters say not every iteration took this path:{}",
                        path.name, r + 1, bad));
    } else if (delta.reasons()) {
      throw std::runtime_error(fmt::format("{}: the balancer ran", path.name));
    }
    res.bases.push_back(base.ns);
    res.raws.push_back(raw.ns);
    res.nets.push_back(raw.ns - base.ns);
  }

 private:
  void load_balancer() {
    balancer_ = std::make_unique<dogfish::BpfDataPlane>(
        dogfish::BpfDataPlaneOptions{.limits = {.ring_size = DF_DEFAULT_RING_SIZE,
                                                .max_vips = 8,
                                                .max_reals = 16,
                                                .conn_entries = opt_.conn_entries}});
  }

  void load_wrapper() {
    bench_.reset(bench_bpf__open_and_load());
    if (!bench_) fail_errno("bench_bpf__open_and_load", errno);
    bench_->bss->src_next = 0x0b000000;  // 11.0.0.0 on: never the client of another path
  }

  // The wrapper's frame and settings for path, and its target: prog_fd, or the path's program.
  void select(const Path& path, int prog_fd = -1) {
    if (prog_fd < 0)
      prog_fd =
          path.balancer ? balancer_->prog_fd() : bpf_program__fd(bench_->progs.bench_floor_xdp_tx);
    std::memcpy(bench_->bss->frame, path.frame.data(), path.frame.size());
    bench_->bss->bump_src = path.bump_src;
    set_target(prog_fd);
  }

  void set_target(int prog_fd) {
    uint32_t zero = 0;
    check(bpf_map_update_elem(bpf_map__fd(bench_->maps.target), &zero, &prog_fd, BPF_ANY),
          "set the wrapper's target");
  }

  struct RunOut {
    double ns;                   // per iteration
    std::vector<uint8_t> frame;  // as the last iteration left it
  };

  // One BPF_PROG_TEST_RUN of the wrapper, which must return want_ret with a
  // frame of want_len bytes. Time is the thread's CPU time, which keeps
  // fractions of a ns and leaves out time the thread was preempted.
  RunOut run(const Path& path, int repeat, uint32_t want_ret, uint32_t want_len) {
    std::array<uint8_t, DF_BENCH_FRAME_LEN + 64> out{};
    bpf_test_run_opts o{};
    o.sz = sizeof(o);
    o.data_in = path.frame.data();
    o.data_size_in = path.frame.size();
    o.data_out = out.data();
    o.data_size_out = out.size();
    o.repeat = repeat;
    const double t0 = thread_ns();
    check(bpf_prog_test_run_opts(bpf_program__fd(bench_->progs.bench_wrapper), &o),
          fmt::format("BPF_PROG_TEST_RUN ({})", path.name));
    const double t1 = thread_ns();
    if (o.retval != want_ret || o.data_size_out != want_len)
      throw std::runtime_error(
          fmt::format("{}: the program returned {} with {} bytes, want {} with {} bytes", path.name,
                      o.retval, o.data_size_out, want_ret, want_len));
    if (g_verbose)
      fmt::print(stderr, "{}: repeat {}: kernel {} ns, thread {:.2f} ns\n", path.name, repeat,
                 o.duration, (t1 - t0) / repeat);
    return {(t1 - t0) / repeat, std::vector<uint8_t>(out.begin(), out.begin() + o.data_size_out)};
  }

  void put_vip(const Addr& a, uint16_t port, uint8_t proto, uint32_t vip_id, uint32_t ring) {
    df_vip_key key{};
    std::memcpy(key.addr, a.bytes.data(), 16);
    key.port = htons(port);
    key.proto = proto;
    key.family = a.family;
    balancer_->put_vip(key, {.vip_id = vip_id, .flags = 0, .ring_slot = ring, .pad = 0});
    df_vip_addr_key akey{};
    std::memcpy(akey.addr, a.bytes.data(), 16);
    akey.family = a.family;
    balancer_->put_vip_addr(akey);
  }

  void put_real(uint32_t id, const Addr& a) {
    df_real real{};
    std::memcpy(real.addr, a.bytes.data(), 16);
    real.family = a.family;
    balancer_->put_real(id, real);
  }

  // Ring `ring` alternates between the two real ids.
  void fill_ring(uint32_t ring, uint32_t id_a, uint32_t id_b) {
    std::vector<uint32_t> ids(DF_DEFAULT_RING_SIZE);
    for (uint32_t i = 0; i < DF_DEFAULT_RING_SIZE; i++) ids[i] = i % 2 ? id_b : id_a;
    balancer_->write_ring(ring, ids);
  }

  void configure_balancer() {
    put_real(1, kReal4[0]);
    put_real(2, kReal4[1]);
    put_real(3, kReal6[0]);
    put_real(4, kReal6[1]);
    fill_ring(0, 1, 2);
    fill_ring(1, 3, 4);
    put_vip(kVip4, kTcpPort, IPPROTO_TCP, 0, 0);
    put_vip(kVip4, kUdpPort, IPPROTO_UDP, 1, 0);
    put_vip(kVip6, kTcpPort, IPPROTO_TCP, 2, 1);

    df_config c{};
    std::memcpy(c.gateway_mac, kGatewayMac, 6);
    c.gateway_set = 1;
    c.max_pkt_size = 0;
    c.udp_idle_ticks = dogfish::seconds_to_ticks(30);
    c.src4_prefix = htonl(0xac100000);  // 172.16.0.0/12
    c.src4_hostmask = htonl(0x000fffff);
    const Addr src6 = addr("fd00:5::");
    std::memcpy(c.src6_prefix, src6.bytes.data(), 16);
    c.src6_hostmask = htonl(0x0000ffff);
    balancer_->set_config(c);
  }

  const Options& opt_;
  std::unique_ptr<dogfish::BpfDataPlane> balancer_;
  BenchSkel bench_;
};

void print_table(const std::vector<std::pair<const Path*, Result>>& results, const Options& opt) {
  fmt::print(
      "dogfish-bench: {} runs x {} iterations, medians, ns/packet; net = wrapper+program "
      "- wrapper+empty\n",
      opt.runs, opt.iterations);
  fmt::print("{:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}  {}\n", "path", "net", "net min",
             "raw", "base", "katran", "target", "vs kat", "");
  for (const auto& [p, r] : results) {
    const std::string kat = p->katran ? fmt::format("{:.0f}", p->katran) : "-";
    const std::string tgt = p->target ? fmt::format("{:.1f}", p->target) : "-";
    const std::string ratio = p->katran ? fmt::format("{:.2f}", r.net / p->katran) : "-";
    const char* verdict = !p->target ? "" : r.net <= p->target ? "ok" : "MISS";
    fmt::print("{:<14} {:>8.1f} {:>8.1f} {:>8.1f} {:>8.1f} {:>8} {:>8} {:>7}  {}\n", p->name, r.net,
               r.net_min, r.raw, r.base, kat, tgt, ratio, verdict);
  }
  fmt::print(
      "proof: in every run of every balancer path the counters matched N x the path's deltas,\n"
      "       and (but for nonsyn_miss) the last frame matched the first byte for byte\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "dogfish-bench: ns/packet of the balancer's paths via BPF_PROG_TEST_RUN.\n"
      "Each figure is the median over runs of (wrapper+program) - (wrapper+empty);\n"
      "the balancer's counters must prove every iteration took its path."};
  app.set_version_flag("--version", dogfish::version_text("dogfish-bench"));
  app.add_option("-n,--iterations", opt.iterations, "iterations per run")
      ->check(CLI::Range(1000, 1 << 30));
  app.add_option("-r,--runs", opt.runs, "runs per path (the median is reported)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--conn-entries", opt.conn_entries, "size of the connection table")
      ->check(CLI::Range(1024u, 1u << 26));
  app.add_option("--cpu", opt.cpu, "pin the bench to this CPU");
  app.add_option("--only", opt.only, "run just these paths")->delimiter(',');
  app.add_flag("--json", opt.json, "print a flat JSON object: path -> net ns");
  app.add_flag("-v,--verbose", g_verbose, "per-run figures and libbpf's debug log");
  CLI11_PARSE(app, argc, argv);

  libbpf_set_print(libbpf_log);
  try {
    if (opt.cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(opt.cpu, &set);
      check(sched_setaffinity(0, sizeof(set), &set), "sched_setaffinity");
    }
    const std::vector<Path> paths = all_paths();
    for (const auto& name : opt.only)
      if (std::none_of(paths.begin(), paths.end(), [&](const Path& p) { return name == p.name; }))
        throw std::invalid_argument(fmt::format("no path named {}", name));

    Bench bench(opt);
    std::vector<std::pair<const Path*, Result>> results;
    for (const auto& p : paths)
      if (opt.only.empty() || std::find(opt.only.begin(), opt.only.end(), p.name) != opt.only.end())
        results.emplace_back(&p, Result{});
    for (auto& [p, res] : results) bench.warm(*p, res);
    // Round robin over the paths: a burst of noise from the rest of the machine
    // lands on one run of many paths, which their medians discard, rather than
    // on every run of one path.
    for (int r = 0; r < opt.runs; r++)
      for (auto& [p, res] : results) bench.measure_run(*p, res, r);
    for (auto& [p, res] : results) res.summarize();
    if (opt.json) {
      nlohmann::ordered_json j = nlohmann::ordered_json::object();
      for (const auto& [p, r] : results) j[p->name] = std::round(r.net * 100) / 100;
      fmt::print("{}\n", j.dump());
    } else {
      print_table(results, opt);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "dogfish-bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
