// Health as the control API shows it: per real in `real_list`, per VIP in
// `vip_list`, the prober's counters in `stats`.
#pragma once

#include <nlohmann/json.hpp>

#include "dogfish/config.hpp"
#include "dogfish/health_monitor.hpp"

namespace dogfish {

// {"check", "state": up | down | unchecked, "serving", "since", "for_s", "last", "last_passed"};
// `monitor` null: no checks run (every real unchecked).
nlohmann::json real_health_json(const HealthMonitor* monitor, const VipConfig& vip,
                                const RealConfig& real);
// {"check", "all_down", "fail_open"}
nlohmann::json vip_health_json(const HealthMonitor* monitor, const VipConfig& vip);
// {"probes", "passed", "failed", "went_down", "went_up", "reals_checked", "reals_down"}
nlohmann::json health_stats_json(const HealthMonitor& monitor);

}  // namespace dogfish
