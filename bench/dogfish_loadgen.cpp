// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
//
// dogfish-loadgen: the two loads lab-bench needs that no Debian tool gives on
// this kernel, and the XDP swap it measures with, each printing one JSON object.
//
//   pps  UDP frames out of a veth as fast as the path behind it takes them:
//        BPF_PROG_TEST_RUN with live frames running lab_gen_tx (XDP_TX) on the
//        interface, which is what xdp-trafficgen does.
//   cps  new TCP connections per second: N connections at a time, each one
//        connect, "GET / HTTP/1.0", read the answer to its end, close.
//   attach a pinned XDP program onto an interface in the mode of the one there
//        (the floor program for the balancer and back), through base's attach.
//
// All run in the caller's network namespace (lab-bench starts them with
// `dogfish-lab exec NODE --`). bench/README.md has the method.

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dogfish/base/address.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/base/skeleton.hpp"
#include "dogfish/base/socket_address.hpp"
#include "dogfish/base/version.hpp"
#include "dogfish/base/xdp.hpp"
#include "lab_bench.skel.h"
#include "lab_bench_abi.h"
#include "support/packet.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using dogfish::Error;
using dogfish::OsError;
using nlohmann::json;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---------------------------------------------------------------- pps

struct PpsOptions {
  std::string iface;
  std::string dst_mac, src_mac;
  std::string src = "10.0.1.2", dst = "10.100.0.1";
  uint16_t port = 53, sport = 10000, flows = 256;
  double duration = 5;
};

// Ethernet, IPv4 (TTL 64, DF), UDP with checksum 0 (allowed for IPv4: the program changes
// the source port per frame without recomputing one), zero bytes to fill the frame.
std::array<uint8_t, DF_GEN_FRAME_LEN> udp_frame(const PpsOptions& o) {
  using namespace dogfish::testing;
  auto mac = [](const std::string& text, const char* what) {
    auto m = dogfish::MacAddress::parse(text);
    if (!m) throw Error(fmt::format("{} '{}' is not a MAC address", what, text));
    return m->bytes;
  };
  auto v4 = [](const std::string& text, const char* what) {
    auto a = dogfish::IpAddress::parse(text);
    if (!a || !a->is_v4()) throw Error(fmt::format("{} '{}' is not an IPv4 address", what, text));
    return a->to_string();
  };
  Packet p;
  p.eth(mac(o.dst_mac, "--dst-mac"), mac(o.src_mac, "--src-mac"))
      .ipv4({.src = v4(o.src, "--src"), .dst = v4(o.dst, "--dst"), .frag_off = 0x4000})  // DF
      .udp({.sport = o.sport, .dport = o.port, .checksum = false});
  const Bytes frame = p.fill_to(DF_GEN_FRAME_LEN).bytes();
  std::array<uint8_t, DF_GEN_FRAME_LEN> f{};
  std::copy(frame.begin(), frame.end(), f.begin());
  return f;
}

json run_pps(const PpsOptions& o) {
  const unsigned ifindex = if_nametoindex(o.iface.c_str());
  if (ifindex == 0) throw OsError(errno, fmt::format("no interface '{}' here", o.iface));
  const auto frame = udp_frame(o);

  dogfish::Skeleton<lab_bench_bpf> skel(
      {lab_bench_bpf__open, lab_bench_bpf__load, lab_bench_bpf__destroy});
  std::memcpy(skel->bss->gen_frame, frame.data(), frame.size());
  skel->bss->gen_sport = o.sport;
  skel->data->gen_flows = o.flows;
  skel.load();
  const int prog = bpf_program__fd(skel->progs.lab_gen_tx);

  xdp_md ctx{};
  ctx.data_end = frame.size();
  ctx.ingress_ifindex = ifindex;
  // A call of this many frames takes well under a second at the rates a veth takes.
  constexpr uint32_t kPerCall = 1 << 16;
  uint64_t sent = 0;
  const auto t0 = Clock::now();
  while (seconds_since(t0) < o.duration) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = frame.size(),
                .ctx_in = &ctx, .ctx_size_in = sizeof ctx, .repeat = kPerCall,
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
    if (int err = bpf_prog_test_run_opts(prog, &opts))
      throw OsError(-err, fmt::format("BPF_PROG_TEST_RUN (live frames) on {}", o.iface));
    sent += kPerCall;
  }
  const double secs = seconds_since(t0);
  return {{"sent", sent}, {"seconds", secs}, {"pps", sent / secs}};
}

// ---------------------------------------------------------------- attach

struct AttachOptions {
  std::string iface, pinned;
};

// A pinned program onto the interface in the mode its XDP program runs in (one atomic swap).
json run_attach(const AttachOptions& o) {
  dogfish::UniqueFd prog(bpf_obj_get(o.pinned.c_str()));
  if (!prog) throw OsError(errno, fmt::format("the pinned program {}", o.pinned));
  const dogfish::XdpMode mode =
      dogfish::attach_xdp(o.iface, prog.get(), dogfish::XdpMode::automatic);
  return {{"iface", o.iface}, {"pinned", o.pinned}, {"mode", dogfish::to_string(mode)}};
}

// ---------------------------------------------------------------- cps

struct CpsOptions {
  std::string target;
  int concurrency = 8;
  double duration = 5;
  double timeout = 2;
};

// One connection's life: connecting, then sending the request, then reading to EOF.
struct Conn {
  int fd = -1;
  Clock::time_point started;
  bool sent = false;
  std::string answer;
};

class ConnectLoad {
 public:
  explicit ConnectLoad(const CpsOptions& o) : o_(o) {
    auto ep = dogfish::Endpoint::parse(o.target);
    if (!ep)
      throw Error(fmt::format("'{}' is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)", o.target));
    if (o.concurrency < 1) throw Error("--concurrency must be at least 1");
    to_ = dogfish::socket_address(*ep);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) throw OsError(errno, "epoll_create1");
    conns_.resize(o.concurrency);
  }
  ~ConnectLoad() {
    for (auto& c : conns_)
      if (c.fd >= 0) close(c.fd);
    close(epoll_);
  }

  json run() {
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::duration<double>(o_.duration);
    for (std::size_t i = 0; i < conns_.size(); i++) idle_.push_back(i);
    std::array<epoll_event, 64> events;
    while (Clock::now() < end) {
      // Connections start here only, so one that fails at once cannot recurse.
      std::vector<std::size_t> starting;
      starting.swap(idle_);
      for (std::size_t i : starting) start(i);
      const int n = epoll_wait(epoll_, events.data(), events.size(), 50);
      if (n < 0 && errno != EINTR) throw OsError(errno, "epoll_wait");
      for (int k = 0; k < n; k++) step(events[k].data.u32);
      expire();
    }
    const double secs = seconds_since(t0);
    return {{"connections", done_},       {"failed", failed_},
            {"timed_out", timed_out_},    {"seconds", secs},
            {"cps", done_ / secs},        {"concurrency", o_.concurrency},
            {"first_error", first_error_}};
  }

 private:
  void start(std::size_t i) {
    Conn& c = conns_[i];
    c = Conn{};
    c.started = Clock::now();
    c.fd = socket(to_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) throw OsError(errno, "socket");
    if (connect(c.fd, to_.get(), to_.length) < 0 && errno != EINPROGRESS) {
      fail(i, errno, "connect");
      return;
    }
    epoll_event ev{.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP,
                   .data = {.u32 = static_cast<uint32_t>(i)}};
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev) < 0) throw OsError(errno, "epoll_ctl");
  }

  void step(std::size_t i) {
    Conn& c = conns_[i];
    if (!c.sent) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) return fail(i, err, "connect");
      static constexpr char kRequest[] = "GET / HTTP/1.0\r\n\r\n";
      if (write(c.fd, kRequest, sizeof kRequest - 1) < 0) {
        if (errno == EAGAIN) return;
        return fail(i, errno, "write");
      }
      c.sent = true;
      epoll_event ev{.events = EPOLLIN | EPOLLRDHUP, .data = {.u32 = static_cast<uint32_t>(i)}};
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    }
    char buf[512];
    ssize_t r;
    while ((r = read(c.fd, buf, sizeof buf)) > 0) c.answer.append(buf, r);
    if (r < 0 && errno == EAGAIN) return;
    if (r < 0) return fail(i, errno, "read");
    // EOF: the server answered and closed (HTTP/1.0). Anything but a 200 is a failure.
    if (c.answer.rfind("HTTP/1.1 200", 0) != 0 && c.answer.rfind("HTTP/1.0 200", 0) != 0) {
      failed_++;
      if (first_error_.empty())
        first_error_ = "answer was not HTTP 200: '" + c.answer.substr(0, 40) + "'";
    } else {
      done_++;
    }
    finish(i);
  }

  void fail(std::size_t i, int err, const char* what) {
    failed_++;
    if (first_error_.empty()) first_error_ = fmt::format("{}: {}", what, std::strerror(err));
    finish(i);
  }

  void finish(std::size_t i) {
    close(conns_[i].fd);  // closing removes it from epoll
    conns_[i].fd = -1;
    idle_.push_back(i);
  }

  // A connection whose SYN or answer was lost counts as timed out and starts again.
  void expire() {
    const auto now = Clock::now();
    for (std::size_t i = 0; i < conns_.size(); i++)
      if (conns_[i].fd >= 0 &&
          std::chrono::duration<double>(now - conns_[i].started).count() > o_.timeout) {
        timed_out_++;
        finish(i);
      }
  }

  const CpsOptions& o_;
  dogfish::SocketAddress to_;
  int epoll_ = -1;
  std::vector<Conn> conns_;
  std::vector<std::size_t> idle_;  // closed, to start again
  uint64_t done_ = 0, failed_ = 0, timed_out_ = 0;
  std::string first_error_;
};

// A positive number of seconds, its default shown in --help.
void add_seconds(CLI::App* app, const std::string& name, double& seconds, const std::string& help) {
  app->add_option(name, seconds, help)->check(CLI::PositiveNumber)->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dogfish-loadgen: load for lab-bench, one JSON object on stdout: UDP frames out of a veth "
      "(pps) or new TCP connections (cps); or a pinned XDP program swapped in (attach)",
      "dogfish-loadgen"};
  app.set_version_flag("--version", dogfish::version_text("dogfish-loadgen"));
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "libbpf's debug messages too");

  PpsOptions pps;
  auto* p = app.add_subcommand(
      "pps", "send UDP frames out of IFACE by XDP_TX of live test-run frames, for DURATION");
  p->add_option("--iface", pps.iface, "interface to send from (a veth end)")->required();
  p->add_option("--dst-mac", pps.dst_mac, "destination MAC: the peer's")->required();
  p->add_option("--src-mac", pps.src_mac, "source MAC: the interface's")->required();
  p->add_option("--src", pps.src, "IPv4 source")->capture_default_str();
  p->add_option("--dst", pps.dst, "IPv4 destination (the VIP)")->capture_default_str();
  p->add_option("--port", pps.port, "UDP destination port")->capture_default_str();
  p->add_option("--sport", pps.sport, "first UDP source port")->capture_default_str();
  p->add_option("--flows", pps.flows, "source ports cycled through (flows)")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  add_seconds(p, "--duration", pps.duration, "seconds");

  CpsOptions cps;
  auto* c = app.add_subcommand("cps", "open, use and close TCP connections to TARGET for DURATION");
  c->add_option("target", cps.target, "ADDRESS:PORT of an HTTP server ([IPv6]:PORT)")->required();
  c->add_option("--concurrency,-c", cps.concurrency, "connections open at a time")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  add_seconds(c, "--duration", cps.duration, "seconds");
  add_seconds(c, "--timeout", cps.timeout,
              "seconds a connection may take before it counts as lost");

  AttachOptions attach;
  auto* a = app.add_subcommand(
      "attach", "put a pinned XDP program on IFACE, in the mode of the program there now");
  a->add_option("--iface", attach.iface, "interface")->required();
  a->add_option("--pinned", attach.pinned, "the program's pin in bpffs")->required();

  CLI11_PARSE(app, argc, argv);
  dogfish::set_log_program("dogfish-loadgen");
  dogfish::set_log_verbose(verbose);
  dogfish::route_libbpf_log();
  try {
    json out = *p ? run_pps(pps) : *a ? run_attach(attach) : ConnectLoad(cps).run();
    std::printf("%s\n", out.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dogfish-loadgen: %s\n", e.what());
    return 1;
  }
  return 0;
}
