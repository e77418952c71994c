#include "fuzzer.hpp"

#include <fmt/format.h>
#include <linux/bpf.h>
#include <sched.h>

#include <array>
#include <chrono>
#include <span>
#include <vector>

#include "checker.hpp"
#include "dogfish/base/abi_names.hpp"
#include "frames.hpp"
#include "programs.hpp"
#include "support/packet.hpp"

namespace dogfish::fuzz {
namespace {

using Clock = std::chrono::steady_clock;

// Verdicts and reasons one program gave, over the run.
struct ProgramTally {
  const char* name;
  std::span<const ReasonName> reasons;
  std::array<std::uint64_t, 6> verdicts{};  // XDP_ABORTED .. XDP_REDIRECT, then any other
  std::vector<std::uint64_t> counted;

  void add(const Outcome& o) {
    verdicts[std::min<std::size_t>(o.verdict, verdicts.size() - 1)]++;
    counted.resize(o.counted.size());
    for (std::size_t r = 0; r < o.counted.size(); r++) counted[r] += o.counted[r];
  }
  std::string verdict_line() const {
    std::string out;
    for (std::uint32_t v = 0; v < verdicts.size(); v++)
      if (verdicts[v])
        out +=
            fmt::format(" {}={}", v + 1 < verdicts.size() ? verdict_name(v) : "other", verdicts[v]);
    return out;
  }
};

struct Tally {
  std::uint64_t frames = 0, round_trips = 0, churns = 0;
  std::array<std::uint64_t, static_cast<int>(FrameKind::count)> kinds{};
  ProgramTally balancer{"balancer", balancer_reasons()};
  ProgramTally decap{"decap", decap_reasons()};
};

void print_summary(const Tally& t, double seconds, std::uint64_t seed) {
  fmt::print("dogfish-fuzz-dataplane: {} frames in {:.1f} s ({:.0f} frames/s), seed {}\n", t.frames,
             seconds, seconds > 0 ? t.frames / seconds : 0.0, seed);
  std::string kinds;
  for (int k = 0; k < static_cast<int>(FrameKind::count); k++)
    kinds += fmt::format(" {}={}", to_string(static_cast<FrameKind>(k)), t.kinds[k]);
  fmt::print("  frames:{}\n  round trips (balancer tx through decap): {}; churns: {}\n", kinds,
             t.round_trips, t.churns);
  for (const ProgramTally* p : {&t.balancer, &t.decap}) {
    fmt::print("  {} verdicts:{}\n  {} reasons:\n", p->name, p->verdict_line(), p->name);
    for (std::size_t r = 0; r < p->counted.size(); r++)
      fmt::print("    {:<22} {}\n", r < p->reasons.size() ? p->reasons[r].name : "?",
                 p->counted[r]);
  }
}

// What broke: in which program (or the round trip), the rule, and that program's outcome.
struct Violation {
  const char* program;
  std::string what;
  Outcome outcome;
};

// The frame in hex and, from a run, the command that replays it.
void print_violation(const Violation& v, const Bytes& frame,
                     std::optional<std::pair<std::uint64_t, std::uint64_t>> index_and_seed) {
  const Outcome& o = v.outcome;
  fmt::print(stderr, "dogfish-fuzz-dataplane: VIOLATION in {}: {}\n", v.program, v.what);
  if (index_and_seed)
    fmt::print(stderr, "at frame {} of the run with seed {}\n", index_and_seed->first,
               index_and_seed->second);
  fmt::print(stderr, "input to {} ({} bytes):\n{}output ({} bytes):\n{}frame: {}\n", v.program,
             o.in.size(), testing::hexdump(o.in, &o.out), o.out.size(),
             testing::hexdump(o.out, &o.in), to_hex(frame));
  if (index_and_seed)
    fmt::print(stderr, "replay the run:   dogfish-fuzz-dataplane --seed {} --frames {}\n",
               index_and_seed->second, index_and_seed->first + 1);
  fmt::print(stderr, "this frame alone: dogfish-fuzz-dataplane --frame {}\n", to_hex(frame));
}

// One frame through both programs (and an encapsulation through decap again), judged in a
// fixed order: the first broken rule is the violation.
struct FrameRun {
  Outcome balancer, decap;
  std::optional<Violation> violation;
};

FrameRun run_frame(const World& w, Balancer& lb, Decap& dc, const Bytes& frame, Tally* tally) {
  FrameRun r{.balancer = lb.run(frame)};
  if (tally) tally->balancer.add(r.balancer);
  if (auto v = check_balancer(w.balancer, r.balancer)) {
    r.violation = Violation{"balancer", *v, r.balancer};
    return r;
  }
  // Encapsulations go through decap again; the balancer's own ICMP answers are not for a real.
  const auto reason = r.balancer.reason();
  if (r.balancer.verdict == XDP_TX && (reason == DF_TX || reason == DF_TX_ICMP_ERROR)) {
    Outcome rt = dc.run(r.balancer.out);
    if (tally) {
      tally->decap.add(rt);
      tally->round_trips++;
    }
    auto v = check_decap(w.decap, rt);
    if (!v) v = check_round_trip(frame, rt);
    if (v) {
      r.violation = Violation{"decap, given the balancer's output", *v, rt};
      return r;
    }
  }
  r.decap = dc.run(frame);
  if (tally) tally->decap.add(r.decap);
  if (auto v = check_decap(w.decap, r.decap)) r.violation = Violation{"decap", *v, r.decap};
  return r;
}

// Changes one live setting, as an operator would between packets.
void churn(World& w, Balancer& lb, Decap& dc, std::mt19937_64& rng) {
  std::uint64_t pick = rng() % 100;
  df_config& c = w.balancer.config;
  if (!c.gateway_set) {  // an unknown gateway is a short spell: it drops everything
    c.gateway_set = 1;
    lb.set_config(c);
    return;
  }
  if (pick < 50) {
    lb.reshuffle_ring(static_cast<std::uint32_t>(rng() % w.balancer.vips.size()), rng);
    return;
  }
  if (pick < 60) {
    c.gateway_set = 0;
  } else if (pick < 75) {
    const std::uint32_t sizes[] = {0, 1500, 1280, 120};
    c.max_pkt_size = sizes[rng() % std::size(sizes)];
  } else if (pick < 85) {
    const std::uint32_t ticks[] = {0, 1, 60};
    c.udp_idle_ticks = ticks[rng() % std::size(ticks)];
  } else {
    w.decap.accept_any = !w.decap.accept_any;
    dc.set_accept_any(w.decap.accept_any);
    return;
  }
  lb.set_config(c);
}

// Per-CPU state (the connection table's LRU lists) then follows one CPU: a seed replays alike.
void stay_on_this_cpu() {
  int cpu = sched_getcpu();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (cpu >= 0) sched_setaffinity(0, sizeof(set), &set);
}

}  // namespace

int fuzz(const FuzzOptions& opt) {
  stay_on_this_cpu();
  World world = default_world();
  Balancer lb(world.balancer);
  Decap dc(world.decap);
  FrameSource source(opt.seed, seed_corpus(world), interesting_addresses(world));
  std::mt19937_64 churn_rng(opt.seed ^ 0xc4u);
  std::uint64_t next_churn = 1000;
  Tally t;
  auto start = Clock::now(), last_progress = start;
  fmt::print(stderr, "dogfish-fuzz-dataplane: {} frames, seed {}\n", opt.frames, opt.seed);

  for (std::uint64_t i = 0; i < opt.frames; i++) {
    Bytes frame = source.next();
    t.kinds[static_cast<int>(source.last_kind())]++;
    if (FrameRun r = run_frame(world, lb, dc, frame, &t); r.violation) {
      print_violation(*r.violation, frame, std::pair{i, opt.seed});
      return 1;
    }
    t.frames++;
    if (i == next_churn) {
      churn(world, lb, dc, churn_rng);
      t.churns++;
      next_churn += 500 + churn_rng() % 4500;
    }
    if (opt.progress_seconds > 0 && (i & 1023) == 0) {
      auto now = Clock::now();
      if (std::chrono::duration<double>(now - last_progress).count() >= opt.progress_seconds) {
        last_progress = now;
        double s = std::chrono::duration<double>(now - start).count();
        fmt::print(stderr,
                   "dogfish-fuzz-dataplane: {}/{} frames ({:.0f}%), {:.0f} frames/s; balancer{}; "
                   "decap{}\n",
                   t.frames, opt.frames, 100.0 * t.frames / opt.frames, t.frames / s,
                   t.balancer.verdict_line(), t.decap.verdict_line());
      }
    }
  }
  print_summary(t, std::chrono::duration<double>(Clock::now() - start).count(), opt.seed);
  return 0;
}

int check_one_frame(const Bytes& frame) {
  if (frame.size() < FrameSource::kMinFrame || frame.size() > FrameSource::kMaxFrame) {
    fmt::print(stderr, "dogfish-fuzz-dataplane: a frame has {} to {} bytes, this one {}\n",
               FrameSource::kMinFrame, FrameSource::kMaxFrame, frame.size());
    return 2;
  }
  World world = default_world();
  Balancer lb(world.balancer);
  Decap dc(world.decap);
  FrameRun r = run_frame(world, lb, dc, frame, nullptr);
  if (r.violation) {
    print_violation(*r.violation, frame, std::nullopt);
    return 1;
  }
  fmt::print("balancer: {}, {}\ndecap: {}, {}\nevery invariant holds for this frame alone\n",
             verdict_name(r.balancer.verdict), balancer_reasons()[*r.balancer.reason()].name,
             verdict_name(r.decap.verdict), decap_reasons()[*r.decap.reason()].name);
  return 0;
}

}  // namespace dogfish::fuzz
