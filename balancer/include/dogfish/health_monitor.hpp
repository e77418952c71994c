// The health of every checked real, per VIP: which probes are due, what they
// found, and the configuration the data plane should see because of it.
//
// Precedence: the configuration (file, reload, CLI) says which reals a VIP has and
// their weights; health only takes a down real out of what is applied, never edits
// the configuration. So a CLI change does not bring a down real back, and a
// health change does not undo a CLI change. A reload or CLI change keeps the state
// of every real whose check it leaves alone; a real with a new or changed check
// starts afresh (up).
//
// Probes via a VIP (health_check.hpp) carry DF_PROBE_MARK | slot: each real address
// probed that way has a slot, kept while it is, which the controller points at the real
// in the data plane (probe_slots()).
//
// All reals of a VIP down: the VIP fails open (every configured real stays in its
// ring), since a checker that cannot reach the reals must not take the service
// down with it. `all_down()` shows it.
//
// Settled: a real's state stands on results the monitor trusts, so every balancer that
// checks it agrees on it. A real is settled once the probes started since it was last
// unsettled have given as many results in a row as its state needs (rise when up, fall
// when down), all agreeing with that state: one failed probe just after a link came back
// does not settle a real as down that its peers see up. It is unsettled when its check
// starts (a new daemon, a new real, a changed check) and by unsettle(), for every real, when
// what the probes found says more about the balancer than about the reals (its link was
// down). The announcements (announcer.hpp) wait for it.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "dogfish/config.hpp"
#include "dogfish/health_prober.hpp"
#include "dogfish/health_state.hpp"

namespace dogfish {

// A real as one VIP has it: the same address in two VIPs is checked twice.
struct RealKey {
  ServiceKey vip;
  IpAddress real;
  auto operator<=>(const RealKey&) const = default;
};

struct RealHealth {
  HealthCheck check;
  ProbeSpec spec;
  HealthState state;
  std::uint64_t probe_id = 0;  // unique to this entry: a late result of a replaced one is ignored
  bool in_flight = false;
  // Results in a row, all alike, from probes started since the real was last unsettled.
  std::uint32_t fresh_run = 0;
  bool fresh_passed = false;  // what they were
  // The monitor's generation (unsettle() calls) when the probe in flight started.
  std::uint64_t started_generation = 0;
  HealthClock::time_point next_probe{};
  HealthClock::time_point since{};  // of the current state
  std::optional<ProbeResult> last;  // the last finished probe
  HealthClock::time_point last_at{};

  // See above: enough fresh results in a row, all agreeing with the state.
  bool settled() const {
    const std::uint32_t needed = state.up() ? check.rise : check.fall;
    return fresh_run > 0 && fresh_passed == state.up() && fresh_run >= needed;
  }
};

// A VIP service as the announcements see it (announcer.hpp).
struct VipHealth {
  bool up = true;       // not every real down (a VIP without checks: always)
  bool settled = true;  // every checked real settled
};

struct HealthCounters {
  std::uint64_t probes = 0, passed = 0, failed = 0, went_down = 0, went_up = 0;
};

class HealthMonitor {
 public:
  // Checks what `config` asks for (see the precedence above).
  void sync(const Config& config, HealthClock::time_point now);
  // `config` as the data plane should have it: down reals out of their VIP (unless
  // that leaves none: fail open), no health keys, which the data plane never reads, and
  // every real's encapsulation named on each of its entries (real_encaps).
  Config effective(const Config& config) const;
  // Takes finished probes and starts due ones; true when some real changed state.
  bool run(Prober& prober, HealthClock::time_point now);
  // When run() has work next: a probe due or one timing out.
  std::optional<HealthClock::time_point> next_wakeup(const Prober& prober) const;
  // How long an event loop may sleep before run() has work (poll's timeout: -1 is forever).
  int wait_ms(const Prober& prober, HealthClock::time_point now) const;

  const RealHealth* find(const RealKey& key) const;
  bool is_down(const VipConfig& vip, const RealConfig& real) const;
  // Every real of the VIP is down: it fails open.
  bool all_down(const VipConfig& vip) const;
  // Every checked real of the VIP is settled (a VIP without checks always is).
  bool settled(const VipConfig& vip) const;
  VipHealth vip_health(const VipConfig& vip) const {
    return {.up = !all_down(vip), .settled = settled(vip)};
  }
  // Results of probes started before now no longer settle a real: every real waits for a
  // new one.
  void unsettle();
  // Whether some real settled since the last call (the announcements may have news).
  bool take_newly_settled() { return std::exchange(newly_settled_, false); }
  const HealthCounters& counters() const { return counters_; }
  const std::map<RealKey, RealHealth>& reals() const { return reals_; }
  // The real each probe slot in use goes to.
  const std::map<std::uint32_t, IpAddress>& probe_slots() const { return probe_slots_; }

 private:
  // Slots for the addresses `config` probes via a VIP: kept ones first, then the lowest free.
  void assign_probe_slots(const Config& config);
  void record(const RealKey& key, RealHealth& real, ProbeResult result, HealthClock::time_point now,
              bool& changed);

  std::map<RealKey, RealHealth> reals_;  // checked reals only (type not none)
  std::map<std::uint64_t, RealKey> by_probe_;
  std::map<std::uint32_t, IpAddress> probe_slots_;
  std::uint64_t next_probe_id_ = 1;
  std::uint64_t generation_ = 0;  // unsettle() calls so far
  bool newly_settled_ = false;
  HealthCounters counters_;
};

std::string to_string(const RealKey& key);

}  // namespace dogfish
