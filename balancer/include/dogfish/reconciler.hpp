// Applies a Config to a DataPlane as the difference from what was applied
// before: stable VIP and real ids, a new Maglev ring only for a VIP whose
// (address, weight) set changed, published by flipping between its two rings.
//
// The Config is trusted (validate_config checked it); only the data plane's
// limits are checked here, before the data plane is touched: a Config over them
// throws Error and changes nothing, in the maps or here.
//
// A data-plane write that fails leaves the maps part-way: the reconciler then
// knows it does not know them, and the next apply() re-reads them first (as a
// restarted daemon adopts pinned maps) and so converges.
//
// Real ids: a freed id waits in a quarantine (its time persisted with the pins)
// and is handed out again only when no fresh id is left, oldest first. When an
// apply needs the id of a real it removes, it goes in two steps: first without
// the new reals (rings flipped away from the removed ones, their ids cleared),
// then with them, so no live ring names an id while it is rewritten.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dogfish/config.hpp"
#include "dogfish/data_plane.hpp"

namespace dogfish {

// A VIP as it is in the data plane now.
struct AppliedVip {
  std::uint32_t vip_id = 0;
  std::uint32_t flags = 0;
  std::uint32_t ring = 0;         // the ring packets read: 2 * vip_id or 2 * vip_id + 1
  std::vector<RealConfig> reals;  // in configuration order
  bool ring_unknown = false;      // adopted from the maps: rebuild on the next apply
};

// Everything the reconciler has written, and the id pools.
struct AppliedState {
  std::map<ServiceKey, AppliedVip> vips;
  std::map<IpAddress, std::uint32_t> real_ids;      // every real configured in any VIP
  std::map<IpAddress, Encap> real_encaps;           // the same reals' encapsulations
  std::map<IpPrefix, std::uint32_t> vip_addr_refs;  // VIPs per address (a full-length prefix)
                                                    // or per prefix (prefix VIPs)
  std::uint32_t next_fresh_real_id = 1;             // never handed out yet
  // Freed ids and when, oldest first: each is handed out again only after the fresh ones.
  std::deque<std::pair<std::uint32_t, std::chrono::steady_clock::time_point>> quarantine;
  std::optional<df_config> config;  // last written
};

// What one apply() did, for logs and tests.
struct ReconcileReport {
  std::size_t vips_added = 0, vips_removed = 0, vips_changed = 0;
  std::size_t reals_added = 0, reals_removed = 0;
  std::size_t reals_reencapsulated = 0;  // kept their id, changed their encapsulation
  std::size_t rings_written = 0;
  std::size_t flows_forgotten = 0;   // connections that lost their real and will re-hash
  std::size_t ids_reused_early = 0;  // real ids handed out before their quarantine ended
  bool resynced = false;             // the maps were re-read first (a write had failed)

  ReconcileReport& operator+=(const ReconcileReport& o);
};

struct ReconcilerOptions {
  // How long a ring that stopped being read is left alone before it is rewritten:
  // packets already in the program may still be reading it.
  std::chrono::milliseconds ring_grace{5};
  // How long a freed real id waits before it may be handed out again: flows that other
  // balancers or the connection table still remember may name it. Fresh ids go first; an
  // id still waiting goes only when no other is left (counted in ids_reused_early).
  std::chrono::milliseconds id_quarantine{std::chrono::minutes(5)};
  // The clock, for tests.
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
};

class Reconciler {
 public:
  explicit Reconciler(DataPlane& data_plane, ReconcilerOptions options = {});

  // Checks `config` against the data plane's limits, then writes what differs
  // from the applied state. `df` is the data plane configuration with the
  // gateway MAC already resolved. Throws Error (changing nothing) when `config`
  // is over the limits; OsError from the data plane passes through, and the
  // next apply() re-reads the maps before it writes.
  ReconcileReport apply(const Config& config, const df_config& df);

  // Takes over what a previous daemon left in (pinned) maps: VIP ids and
  // active rings, real ids. The next apply() keeps those ids, rebuilds each
  // VIP's ring into its inactive slot and removes what the config no longer has.
  void adopt();

  // Throws Error when `config` is over the data plane's sizes (ring size, VIPs,
  // real ids); touches nothing.
  void check_limits(const Config& config) const;

  const AppliedState& state() const { return state_; }
  // True after a write failed, until an apply() has re-read the maps and succeeded.
  bool state_unknown() const { return unknown_; }
  std::optional<std::uint32_t> real_id(const IpAddress& address) const;
  // Maglev rings built since start, and the time their building took (not their writes).
  std::uint64_t rings_built() const { return rings_built_; }
  std::chrono::nanoseconds ring_build_time() const { return ring_build_time_; }

 private:
  struct Plan;
  ReconcileReport apply_once(const Config& config, const df_config& df);
  // Re-reads the maps after a failed write, keeping what only memory knew (quarantine).
  void resync();
  // True when `config` adds more reals than there are ids not freed by this very apply.
  bool needs_removed_ids(const Config& config) const;
  // What changes, before anything is written.
  void plan_reals(const Config& config, Plan& plan, ReconcileReport& report) const;
  void plan_removed_vips(const Config& config, Plan& plan) const;
  // The writes, in apply()'s order.
  void write_config(const df_config& df, AppliedState& next);
  // The added reals, and those whose encapsulation changed (rewritten under their id).
  void write_reals(const Plan& plan, ReconcileReport& report);
  void remove_vips(Plan& plan, ReconcileReport& report);
  void add_vip(const VipConfig& v, AppliedState& next, ReconcileReport& report);
  void change_vip(const VipConfig& v, AppliedVip& vip, const AppliedState& next,
                  ReconcileReport& report);
  void clear_removed_reals(const Plan& plan, ReconcileReport& report);
  void write_quarantine(const Plan& plan);
  std::size_t forget_lost_flows(const std::vector<std::pair<ServiceKey, AppliedVip>>& removed_vips,
                                const Config& config, const AppliedState& next);

  std::uint32_t allocate_vip_id(const AppliedState& next) const;
  std::uint32_t allocate_real_id(AppliedState& next, ReconcileReport& report) const;
  void write_ring(std::uint32_t ring, const std::vector<RealConfig>& reals,
                  const AppliedState& next);

  DataPlane& dp_;
  ReconcilerOptions options_;
  AppliedState state_;
  bool unknown_ = false;
  std::uint64_t rings_built_ = 0;
  std::chrono::nanoseconds ring_build_time_{0};
  // When each ring last stopped being read.
  std::map<std::uint32_t, std::chrono::steady_clock::time_point> retired_;
};

}  // namespace dogfish
