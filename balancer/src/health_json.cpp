#include "dogfish/health_json.hpp"

#include <algorithm>
#include <chrono>

namespace dogfish {
namespace {

using nlohmann::json;

// A steady-clock moment as seconds since the epoch, for a reader to compare with `date`.
double wall_seconds(HealthClock::time_point at) {
  auto wall = std::chrono::system_clock::now() - (HealthClock::now() - at);
  return std::chrono::duration<double>(wall.time_since_epoch()).count();
}

}  // namespace

json real_health_json(const HealthMonitor* monitor, const VipConfig& vip, const RealConfig& real) {
  const HealthCheck& check = health_of(vip, real);
  const RealHealth* h = monitor ? monitor->find({ServiceKey::of(vip), real.address}) : nullptr;
  json out{{"check", to_string(check.type)}};
  if (!h) {
    out["state"] = "unchecked";
    out["serving"] = true;
    return out;
  }
  const bool up = h->state.up();
  out["state"] = up ? "up" : "down";
  out["serving"] = up || monitor->all_down(vip);
  out["since"] = wall_seconds(h->since);
  out["for_s"] = std::chrono::duration<double>(HealthClock::now() - h->since).count();
  out["streak"] = h->state.streak();
  out["settled"] = h->settled();
  if (h->last) {
    out["last"] = h->last->detail;
    out["last_passed"] = h->last->passed;
    out["last_at"] = wall_seconds(h->last_at);
  }
  return out;
}

json vip_health_json(const HealthMonitor* monitor, const VipConfig& vip) {
  const bool all_down = monitor && monitor->all_down(vip);
  return {{"check", to_string(vip.health.type)},
          {"all_down", all_down},
          {"fail_open", all_down},
          {"settled", !monitor || monitor->settled(vip)}};
}

json health_stats_json(const HealthMonitor& monitor) {
  const HealthCounters& c = monitor.counters();
  const auto down = std::count_if(monitor.reals().begin(), monitor.reals().end(),
                                  [](const auto& r) { return !r.second.state.up(); });
  return {{"probes", c.probes},   {"passed", c.passed},
          {"failed", c.failed},   {"went_down", c.went_down},
          {"went_up", c.went_up}, {"reals_checked", monitor.reals().size()},
          {"reals_down", down}};
}

}  // namespace dogfish
