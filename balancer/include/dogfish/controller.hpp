// The control API: one JSON request in, one JSON response out. Runtime changes
// edit a copy of the in-memory Config and go through the Reconciler, so a
// request that fails changes nothing.
//
// Requests ({"cmd": ...}):
//   vip_add  {vip: "10.0.0.1:80", proto: "tcp", flags: ["no_conn_table", ...]}
//            (everywhere: vip "10.0.0.1:80/tcp" names the protocol too; proto defaults to tcp;
//            "10.0.0.1:*" is the any-port VIP, listed with port 0; "10.0.1.0/24:80" a prefix
//            VIP, listed with its address and prefix_len, which is null for other VIPs)
//   vip_edit {vip, proto, flags: [...]}                   (replaces the flags)
//   vip_del  {vip, proto}
//   vip_list {}
//   real_add {vip, proto, real: "10.1.0.1", weight: 1}   (a real already there is an error)
//   real_edit{vip, proto, real, weight}                   (reweight; 0 drains)
//   real_del {vip, proto, real}
//   real_list{[vip, proto]}
//   ring     {vip, proto}                                 (the ring packets read, slot by slot)
//   flow     {client: "10.0.0.2:40000", vip, proto}       (the real it goes to now: flow_query.hpp;
//            vip names the address and port asked, which an any-port or prefix VIP may serve)
//   stats    {}
//   reload   {}                                           (re-read the configuration file)
// Responses: {"ok": true, ...} or {"error": "one line"}.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "dogfish/config.hpp"
#include "dogfish/data_plane.hpp"
#include "dogfish/health_monitor.hpp"
#include "dogfish/reconciler.hpp"

namespace dogfish {

// The counters by name: per VIP, per real, per (VIP, real) of the applied state, connection
// table, every reason (DF_REASONS).
nlohmann::json stats_json(const DataPlaneStats& stats, const AppliedState& state);
// The data plane's counters, with those of every (VIP, real) pair in the applied state.
DataPlaneStats read_stats(const DataPlane& data_plane, const AppliedState& state);

// How often the configuration was applied (a change, a reload, the start) and reloaded.
struct ControlCounters {
  std::uint64_t applies = 0, apply_failures = 0;
  std::uint64_t reloads = 0, reload_failures = 0;
  std::chrono::nanoseconds applying{0};  // in apply(), refused applies included
};

class Controller {
 public:
  // The data plane configuration for a Config: gateway resolved (may throw Error).
  using DfConfigFor = std::function<df_config(const Config&)>;
  // Reads the configuration file again (throws ConfigError).
  using Loader = std::function<Config()>;

  // `health`, when given, is kept in step with every applied Config, and its down
  // reals are left out of what reaches the data plane (health_monitor.hpp).
  Controller(Reconciler& reconciler, DataPlane& data_plane, DfConfigFor df_config_for,
             Loader loader, HealthMonitor* health = nullptr);

  // Validates (validate_config, then the data plane's limits) and reconciles to
  // `config`; keeps it only when that worked. Throws Error.
  ReconcileReport apply(const Config& config);
  // reload: load, check what cannot change live, apply. Throws Error. A changed
  // metrics_listen is logged and kept as it was: the endpoint is bound at start.
  ReconcileReport reload();
  // Applies the running Config again after a real's health changed. Throws Error.
  ReconcileReport health_changed();

  // Never throws: errors become {"error": ...}.
  nlohmann::json handle(const nlohmann::json& request);
  nlohmann::json handle_line(std::string_view line);

  const Config& config() const { return config_; }
  const ControlCounters& counters() const { return counters_; }

 private:
  nlohmann::json vip_list() const;
  nlohmann::json real_list(const nlohmann::json& request) const;
  nlohmann::json ring(const nlohmann::json& request) const;
  nlohmann::json flow(const nlohmann::json& request) const;
  nlohmann::json change(const nlohmann::json& request, const std::string& cmd);

  Reconciler& reconciler_;
  DataPlane& dp_;
  DfConfigFor df_config_for_;
  Loader loader_;
  HealthMonitor* health_;
  Config config_;
  bool applied_ = false;
  ControlCounters counters_;
};

}  // namespace dogfish
