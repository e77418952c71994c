#include "dogfish/health_monitor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "dogfish/base/abi.hpp"
#include "dogfish/base/log.hpp"

namespace dogfish {
namespace {

// Where in its interval a real's probes fall: fixed per real, spread over reals,
// so a thousand reals are not probed in one burst.
std::chrono::milliseconds offset_of(const RealKey& key, std::uint32_t interval_ms) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  auto mix = [&](std::uint8_t byte) { h = (h ^ byte) * 1099511628211ULL; };
  for (std::uint8_t b : key.real.bytes) mix(b);
  for (std::uint8_t b : key.vip.address.bytes) mix(b);
  mix(key.vip.port & 0xff);
  mix(key.vip.port >> 8);
  mix(static_cast<std::uint8_t>(key.vip.proto));
  return std::chrono::milliseconds(h % interval_ms);
}

ProbeSpec spec_of(const VipConfig& vip, const RealConfig& real, const HealthCheck& h,
                  std::uint32_t mark) {
  return {.type = h.type,
          .target = {h.via == HealthVia::vip ? vip.address : real.address,
                     h.port != 0 ? h.port : vip.port},
          .real = real.address,
          .mark = mark,
          .path = h.path,
          .status = h.status,
          .payload = h.payload,
          .expect = h.expect,
          .timeout = std::chrono::milliseconds(h.timeout_ms)};
}

}  // namespace

std::string to_string(const RealKey& key) {
  return fmt::format("real {} of VIP {}", key.real.to_string(), to_string(key.vip));
}

void HealthMonitor::assign_probe_slots(const Config& config) {
  std::set<IpAddress> wanted;
  for (const VipConfig& vip : config.vips)
    for (const RealConfig& real : vip.reals)
      if (const HealthCheck& h = health_of(vip, real);
          h.type != HealthType::none && h.via == HealthVia::vip)
        wanted.insert(real.address);
  std::erase_if(probe_slots_, [&](const auto& slot) { return !wanted.contains(slot.second); });
  for (const auto& [slot, address] : probe_slots_) wanted.erase(address);
  std::uint32_t next = 0;
  for (const IpAddress& address : wanted) {
    while (probe_slots_.contains(next)) next++;
    probe_slots_.emplace(next, address);
  }
}

void HealthMonitor::sync(const Config& config, HealthClock::time_point now) {
  assign_probe_slots(config);
  std::map<IpAddress, std::uint32_t> marks;
  for (const auto& [slot, address] : probe_slots_) marks.emplace(address, DF_PROBE_MARK | slot);
  std::map<RealKey, RealHealth> next;
  for (const VipConfig& vip : config.vips) {
    for (const RealConfig& real : vip.reals) {
      const HealthCheck& check = health_of(vip, real);
      if (check.type == HealthType::none) continue;
      RealKey key{ServiceKey::of(vip), real.address};
      auto old = reals_.find(key);
      const std::uint32_t mark = check.via == HealthVia::vip ? marks.at(real.address) : 0;
      if (old != reals_.end() && old->second.check == check) {
        // Its address kept its slot; written again all the same, cheaper than proving it.
        next.emplace(key, std::move(old->second)).first->second.spec.mark = mark;
        continue;
      }
      next.emplace(key, RealHealth{.check = check,
                                   .spec = spec_of(vip, real, check, mark),
                                   .probe_id = next_probe_id_++,
                                   .next_probe = now + offset_of(key, check.interval_ms),
                                   .since = now});
    }
  }
  reals_ = std::move(next);
  by_probe_.clear();
  for (const auto& [key, real] : reals_) by_probe_.emplace(real.probe_id, key);
}

bool HealthMonitor::is_down(const VipConfig& vip, const RealConfig& real) const {
  const RealHealth* h = find({ServiceKey::of(vip), real.address});
  return h && !h->state.up();
}

bool HealthMonitor::all_down(const VipConfig& vip) const {
  return !vip.reals.empty() && std::all_of(vip.reals.begin(), vip.reals.end(),
                                           [&](const RealConfig& r) { return is_down(vip, r); });
}

bool HealthMonitor::settled(const VipConfig& vip) const {
  return std::all_of(vip.reals.begin(), vip.reals.end(), [&](const RealConfig& r) {
    const RealHealth* h = find({ServiceKey::of(vip), r.address});
    return !h || h->settled();
  });
}

void HealthMonitor::unsettle() {
  generation_++;
  for (auto& [key, real] : reals_) real.fresh_run = 0;
}

Config HealthMonitor::effective(const Config& config) const {
  // Named on every entry: a real left out of the VIP whose entry named its encapsulation must
  // not take that name from its other VIPs.
  const std::map<IpAddress, Encap> encaps = real_encaps(config);
  Config out = config;
  for (VipConfig& vip : out.vips) {
    if (!all_down(vip))
      std::erase_if(vip.reals, [&](const RealConfig& r) { return is_down(vip, r); });
    vip.health = {};
    for (RealConfig& r : vip.reals) {
      r.health.reset();
      r.encap = encaps.at(r.address);
    }
  }
  return out;
}

void HealthMonitor::record(const RealKey& key, RealHealth& real, ProbeResult result,
                           HealthClock::time_point now, bool& changed) {
  real.in_flight = false;
  (result.passed ? counters_.passed : counters_.failed)++;
  const bool was = real.settled();
  const bool flipped = real.state.observe(result.passed, real.check.rise, real.check.fall);
  if (real.started_generation == generation_) {
    real.fresh_run =
        real.fresh_run > 0 && real.fresh_passed == result.passed ? real.fresh_run + 1 : 1;
    real.fresh_passed = result.passed;
    newly_settled_ |= real.settled() && !was;
  }
  real.last = std::move(result);
  real.last_at = now;
  if (!flipped) return;
  changed = true;
  real.since = now;
  (real.state.up() ? counters_.went_up : counters_.went_down)++;
  log_info("health: {} is {} ({} {} in a row, last: {})", to_string(key),
           real.state.up() ? "up" : "down", real.state.up() ? real.check.rise : real.check.fall,
           real.state.up() ? "passes" : "failures", real.last->detail);
}

bool HealthMonitor::run(Prober& prober, HealthClock::time_point now) {
  bool changed = false;
  for (ProbeResult& result : prober.collect(now)) {
    auto key = by_probe_.find(result.id);
    if (key == by_probe_.end()) continue;  // its real left or its check changed
    RealHealth& real = reals_.at(key->second);
    if (real.in_flight) record(key->second, real, std::move(result), now, changed);
  }
  for (auto& [key, real] : reals_) {
    if (now < real.next_probe) continue;
    const auto interval = std::chrono::milliseconds(real.check.interval_ms);
    real.next_probe += interval;
    if (real.next_probe <= now) real.next_probe = now + interval;  // the loop stalled: no burst
    if (real.in_flight) continue;                                  // still waiting: skip a turn
    real.in_flight = true;
    real.started_generation = generation_;
    counters_.probes++;
    prober.start(real.probe_id, real.spec, now);
  }
  return changed;
}

std::optional<HealthClock::time_point> HealthMonitor::next_wakeup(const Prober& prober) const {
  std::optional<HealthClock::time_point> at = prober.next_deadline();
  for (const auto& [key, real] : reals_)
    if (!at || real.next_probe < *at) at = real.next_probe;
  return at;
}

int HealthMonitor::wait_ms(const Prober& prober, HealthClock::time_point now) const {
  auto at = next_wakeup(prober);
  if (!at) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*at - now).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, 60'000));
}

const RealHealth* HealthMonitor::find(const RealKey& key) const {
  auto it = reals_.find(key);
  return it == reals_.end() ? nullptr : &it->second;
}

}  // namespace dogfish
