#include "dogfish/reconciler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "dogfish/base/errors.hpp"
#include "dogfish/df_structs.hpp"
#include "dogfish/maglev.hpp"
#include "dogfish/vip_match.hpp"

namespace dogfish {
namespace {

// The (address, weight) set a ring is built from, in a fixed order; nothing else of a real's
// (its encapsulation is its entry's) changes the ring.
std::vector<std::pair<IpAddress, std::uint32_t>> ring_input(const std::vector<RealConfig>& reals) {
  std::vector<std::pair<IpAddress, std::uint32_t>> out;
  for (const RealConfig& r : reals) out.emplace_back(r.address, r.weight);
  std::sort(out.begin(), out.end());
  return out;
}

std::uint32_t other_ring(std::uint32_t vip_id, std::uint32_t ring) {
  return ring == vip_id * DF_RINGS_PER_VIP ? ring + 1 : vip_id * DF_RINGS_PER_VIP;
}

df_vip_meta meta_of(const AppliedVip& vip) {
  return {.vip_id = vip.vip_id, .flags = vip.flags, .ring_slot = vip.ring};
}

// A VIP of one address lives in the VIP map, a prefix VIP in the prefix trie.
void put_vip(DataPlane& dp, const ServiceKey& key, const df_vip_meta& meta) {
  key.prefix_len ? dp.put_vip_prefix(to_df_prefix_key(key), meta)
                 : dp.put_vip(to_df_key(key), meta);
}

void delete_vip(DataPlane& dp, const ServiceKey& key) {
  key.prefix_len ? dp.delete_vip_prefix(to_df_prefix_key(key)) : dp.delete_vip(to_df_key(key));
}

// The addresses VIPs live on: single ones in the address set, prefixes in its trie.
bool single_address(const IpPrefix& p) { return p.length == p.address.size() * 8; }

void put_vip_addresses(DataPlane& dp, const IpPrefix& p) {
  single_address(p) ? dp.put_vip_addr(to_df_addr_key(p.address))
                    : dp.put_vip_addr_prefix(to_df_addr_prefix_key(p));
}

void delete_vip_addresses(DataPlane& dp, const IpPrefix& p) {
  single_address(p) ? dp.delete_vip_addr(to_df_addr_key(p.address))
                    : dp.delete_vip_addr_prefix(to_df_addr_prefix_key(p));
}

// What the data plane holds: both VIP maps, and both address sets.
std::vector<std::pair<ServiceKey, df_vip_meta>> vips_in(const DataPlane& dp) {
  std::vector<std::pair<ServiceKey, df_vip_meta>> out;
  for (const auto& [k, meta] : dp.read_vips()) out.emplace_back(service_key_of(k), meta);
  for (const auto& [k, meta] : dp.read_vip_prefixes()) out.emplace_back(service_key_of(k), meta);
  return out;
}

std::set<IpPrefix> vip_addresses_in(const DataPlane& dp) {
  std::set<IpPrefix> out;
  for (const df_vip_addr_key& k : dp.read_vip_addrs()) {
    const IpAddress a = address_of(k);
    out.insert({a, static_cast<std::uint8_t>(a.size() * 8)});
  }
  for (const df_prefix_key& k : dp.read_vip_addr_prefixes()) out.insert(prefix_of(k));
  return out;
}

}  // namespace

// What one apply() changes, worked out before anything is written.
struct Reconciler::Plan {
  AppliedState next;
  std::vector<std::pair<IpAddress, std::uint32_t>> added_reals;
  std::vector<std::pair<IpAddress, std::uint32_t>> reencapsulated_reals;  // same id, new encap
  std::vector<std::uint32_t> removed_real_ids;
  std::vector<std::pair<ServiceKey, AppliedVip>> removed_vips;
};

Reconciler::Reconciler(DataPlane& data_plane, ReconcilerOptions options)
    : dp_(data_plane), options_(options) {}

std::optional<std::uint32_t> Reconciler::real_id(const IpAddress& address) const {
  auto it = state_.real_ids.find(address);
  if (it == state_.real_ids.end()) return std::nullopt;
  return it->second;
}

void Reconciler::adopt() {
  AppliedState adopted;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [key, meta] : vips_in(dp_)) {
    adopted.vips[key] = {
        .vip_id = meta.vip_id, .flags = meta.flags, .ring = meta.ring_slot, .ring_unknown = true};
    adopted.vip_addr_refs[key.addresses()]++;
    // The other ring may have been read until just now.
    retired_[other_ring(meta.vip_id, meta.ring_slot)] = now;
  }
  std::set<std::uint32_t> used;
  for (const auto& [id, real] : dp_.read_reals()) {
    adopted.real_ids[address_of(real)] = id;
    adopted.real_encaps[address_of(real)] = encap_of(real);
    used.insert(id);
  }
  // Freed ids wait out their quarantine across restarts, oldest first; an id below the
  // highest one seen and never recorded was freed before anything remembers.
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::uint32_t>> freed;
  std::set<std::uint32_t> seen = used;
  for (const auto& [id, ns] : dp_.read_freed_reals()) {
    if (used.contains(id) || id >= dp_.limits().max_reals) continue;
    freed.emplace_back(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns)), id);
    seen.insert(id);
  }
  adopted.next_fresh_real_id = seen.empty() ? 1 : *seen.rbegin() + 1;
  for (std::uint32_t id = 1; id < adopted.next_fresh_real_id; id++)
    if (!seen.contains(id)) freed.emplace_back(std::chrono::steady_clock::time_point{}, id);
  std::sort(freed.begin(), freed.end());
  for (const auto& [when, id] : freed) adopted.quarantine.emplace_back(id, when);
  // An address no adopted VIP lives on (its VIP went with the previous daemon) would
  // still make malformed packets to it count as ours; one a VIP lives on must be there.
  const std::set<IpPrefix> addrs = vip_addresses_in(dp_);
  for (const IpPrefix& p : addrs)
    if (!adopted.vip_addr_refs.contains(p)) delete_vip_addresses(dp_, p);
  for (const auto& [p, refs] : adopted.vip_addr_refs)
    if (!addrs.contains(p)) put_vip_addresses(dp_, p);
  state_ = std::move(adopted);
}

void Reconciler::resync() {
  using TimePoint = std::chrono::steady_clock::time_point;
  AppliedState before = std::move(state_);
  adopt();
  // What only memory knew: the highest id handed out, and when ids were freed (the failed
  // write may have been that record). An id memory had in use and the maps show free
  // waits from now.
  auto now = options_.now();
  std::map<std::uint32_t, TimePoint> remembered;
  for (const auto& [id, when] : before.quarantine) remembered[id] = when;
  for (const auto& [address, id] : before.real_ids) remembered[id] = now;
  std::set<std::uint32_t> in_use;
  for (const auto& [address, id] : state_.real_ids) in_use.insert(id);
  std::map<std::uint32_t, TimePoint> waiting;
  for (const auto& [id, when] : state_.quarantine) waiting[id] = when;
  state_.next_fresh_real_id = std::max(state_.next_fresh_real_id, before.next_fresh_real_id);
  std::vector<std::pair<TimePoint, std::uint32_t>> queue;
  for (std::uint32_t id = 1; id < state_.next_fresh_real_id; id++) {
    if (in_use.contains(id)) continue;
    TimePoint when = waiting.contains(id) ? waiting[id] : TimePoint{};
    if (auto it = remembered.find(id); it != remembered.end()) when = std::max(when, it->second);
    queue.emplace_back(when, id);
  }
  std::sort(queue.begin(), queue.end());
  state_.quarantine.clear();
  for (const auto& [when, id] : queue) state_.quarantine.emplace_back(id, when);
}

void Reconciler::check_limits(const Config& config) const {
  const DataPlaneLimits& l = dp_.limits();
  if (config.ring_size != l.ring_size)
    throw Error(
        fmt::format("ring_size {} differs from the loaded program's {}: restart to change it",
                    config.ring_size, l.ring_size));
  if (config.vips.size() > l.max_vips)
    throw Error(fmt::format("{} VIPs, more than max_vips ({})", config.vips.size(), l.max_vips));
  std::set<IpAddress> reals;
  for (const VipConfig& v : config.vips)
    for (const RealConfig& r : v.reals) reals.insert(r.address);
  if (reals.size() > l.max_reals - 1)
    throw Error(fmt::format("{} distinct reals, more than max_reals - 1 ({})", reals.size(),
                            l.max_reals - 1));
}

std::uint32_t Reconciler::allocate_vip_id(const AppliedState& next) const {
  std::set<std::uint32_t> used;
  for (const auto& [key, vip] : next.vips) used.insert(vip.vip_id);
  std::uint32_t id = 0;
  while (used.contains(id)) id++;
  return id;  // check_limits() made sure there is room
}

std::uint32_t Reconciler::allocate_real_id(AppliedState& next, ReconcileReport& report) const {
  if (next.next_fresh_real_id < dp_.limits().max_reals) return next.next_fresh_real_id++;
  if (next.quarantine.empty()) throw Error("no free real id");  // check_limits() prevents it
  auto [id, freed] = next.quarantine.front();
  next.quarantine.pop_front();
  if (options_.now() < freed + options_.id_quarantine) report.ids_reused_early++;
  return id;
}

void Reconciler::write_ring(std::uint32_t ring, const std::vector<RealConfig>& reals,
                            const AppliedState& next) {
  std::vector<MaglevReal> input;
  input.reserve(reals.size());
  for (const RealConfig& r : reals)
    input.push_back({.address = r.address, .weight = r.weight, .id = next.real_ids.at(r.address)});
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::uint32_t> slots = Maglev(dp_.limits().ring_size).build(input);
  ring_build_time_ += std::chrono::steady_clock::now() - started;
  ++rings_built_;
  if (auto it = retired_.find(ring); it != retired_.end())
    std::this_thread::sleep_until(it->second + options_.ring_grace);
  dp_.write_ring(ring, slots);
}

void Reconciler::plan_reals(const Config& config, Plan& plan, ReconcileReport& report) const {
  const std::map<IpAddress, Encap> wanted = real_encaps(config);
  AppliedState& next = plan.next;
  for (auto it = next.real_ids.begin(); it != next.real_ids.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    plan.removed_real_ids.push_back(it->second);
    next.real_encaps.erase(it->first);
    it = next.real_ids.erase(it);
  }
  // Ids freed now join the quarantine after the new reals took theirs: apply() made sure
  // there are enough ids without them.
  for (const auto& [a, encap] : wanted) {
    if (auto kept = next.real_ids.find(a); kept != next.real_ids.end()) {
      if (next.real_encaps[a] != encap) plan.reencapsulated_reals.emplace_back(a, kept->second);
      next.real_encaps[a] = encap;
      continue;
    }
    std::uint32_t id = allocate_real_id(next, report);
    next.real_ids[a] = id;
    next.real_encaps[a] = encap;
    plan.added_reals.emplace_back(a, id);
  }
  auto now = options_.now();
  for (std::uint32_t id : plan.removed_real_ids) next.quarantine.emplace_back(id, now);
}

bool Reconciler::needs_removed_ids(const Config& config) const {
  std::set<IpAddress> added;
  for (const VipConfig& v : config.vips)
    for (const RealConfig& r : v.reals)
      if (!state_.real_ids.contains(r.address)) added.insert(r.address);
  std::size_t fresh =
      dp_.limits().max_reals - std::min(dp_.limits().max_reals, state_.next_fresh_real_id);
  return added.size() > fresh + state_.quarantine.size();
}

void Reconciler::plan_removed_vips(const Config& config, Plan& plan) const {
  // First, so their ids can be reused.
  std::set<ServiceKey> wanted;
  for (const VipConfig& v : config.vips) wanted.insert(ServiceKey::of(v));
  for (auto it = plan.next.vips.begin(); it != plan.next.vips.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    plan.removed_vips.emplace_back(*it);
    it = plan.next.vips.erase(it);
  }
}

void Reconciler::write_config(const df_config& df, AppliedState& next) {
  if (state_.config && std::memcmp(&*state_.config, &df, sizeof(df)) == 0) return;
  dp_.set_config(df);
  next.config = df;
}

void Reconciler::write_reals(const Plan& plan, ReconcileReport& report) {
  for (const auto& [address, id] : plan.added_reals) {
    dp_.put_real(id, to_df_real(address, plan.next.real_encaps.at(address)));
    report.reals_added++;
  }
  // In place: a packet reads the old encapsulation or the new, the address either way.
  for (const auto& [address, id] : plan.reencapsulated_reals) {
    dp_.put_real(id, to_df_real(address, plan.next.real_encaps.at(address)));
    report.reals_reencapsulated++;
  }
}

void Reconciler::remove_vips(Plan& plan, ReconcileReport& report) {
  for (const auto& [key, vip] : plan.removed_vips) {
    delete_vip(dp_, key);
    retired_[vip.ring] = std::chrono::steady_clock::now();
    if (--plan.next.vip_addr_refs[key.addresses()] == 0) {
      plan.next.vip_addr_refs.erase(key.addresses());
      delete_vip_addresses(dp_, key.addresses());
    }
    report.vips_removed++;
  }
}

void Reconciler::add_vip(const VipConfig& v, AppliedState& next, ReconcileReport& report) {
  ServiceKey key = ServiceKey::of(v);
  AppliedVip vip{.vip_id = allocate_vip_id(next), .flags = v.flags, .reals = v.reals};
  vip.ring = vip.vip_id * DF_RINGS_PER_VIP;
  write_ring(vip.ring, vip.reals, next);
  report.rings_written++;
  if (next.vip_addr_refs[key.addresses()]++ == 0) put_vip_addresses(dp_, key.addresses());
  put_vip(dp_, key, meta_of(vip));
  next.vips.emplace(key, std::move(vip));
  report.vips_added++;
}

void Reconciler::change_vip(const VipConfig& v, AppliedVip& vip, const AppliedState& next,
                            ReconcileReport& report) {
  bool new_ring = vip.ring_unknown || ring_input(vip.reals) != ring_input(v.reals);
  if (!new_ring && vip.flags == v.flags) {
    vip.reals = v.reals;  // only the order changed
    return;
  }
  std::uint32_t old_ring = vip.ring;
  if (new_ring) {
    vip.ring = other_ring(vip.vip_id, vip.ring);
    write_ring(vip.ring, v.reals, next);
    report.rings_written++;
  }
  vip.flags = v.flags;
  vip.reals = v.reals;
  vip.ring_unknown = false;
  put_vip(dp_, ServiceKey::of(v), meta_of(vip));
  if (new_ring) retired_[old_ring] = std::chrono::steady_clock::now();
  report.vips_changed++;
}

void Reconciler::clear_removed_reals(const Plan& plan, ReconcileReport& report) {
  for (std::uint32_t id : plan.removed_real_ids) {
    dp_.put_real(id, df_real{});
    report.reals_removed++;
  }
}

void Reconciler::write_quarantine(const Plan& plan) {
  auto ns = [](std::chrono::steady_clock::time_point t) {
    return std::uint64_t(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  };
  for (const auto& [address, id] : plan.added_reals) dp_.set_real_freed_at(id, 0);
  for (const auto& [id, when] : plan.next.quarantine)
    if (std::find(plan.removed_real_ids.begin(), plan.removed_real_ids.end(), id) !=
        plan.removed_real_ids.end())
      dp_.set_real_freed_at(id, std::max<std::uint64_t>(ns(when), 1));
}

ReconcileReport& ReconcileReport::operator+=(const ReconcileReport& o) {
  vips_added += o.vips_added;
  vips_removed += o.vips_removed;
  vips_changed += o.vips_changed;
  reals_added += o.reals_added;
  reals_removed += o.reals_removed;
  reals_reencapsulated += o.reals_reencapsulated;
  rings_written += o.rings_written;
  flows_forgotten += o.flows_forgotten;
  ids_reused_early += o.ids_reused_early;
  resynced = resynced || o.resynced;
  return *this;
}

ReconcileReport Reconciler::apply(const Config& config, const df_config& df) {
  check_limits(config);
  ReconcileReport report;
  try {
    if (unknown_) {
      resync();
      report.resynced = true;
    }
    if (needs_removed_ids(config)) {
      // The pool is full: free the removed reals' ids first (rings flipped away from them,
      // entries cleared), then hand them to the new reals.
      Config without_new = config;
      for (VipConfig& v : without_new.vips)
        std::erase_if(v.reals, [&](const RealConfig& r) { return !real_id(r.address); });
      report += apply_once(without_new, df);
    }
    report += apply_once(config, df);
  } catch (...) {
    unknown_ = true;
    throw;
  }
  unknown_ = false;
  return report;
}

ReconcileReport Reconciler::apply_once(const Config& config, const df_config& df) {
  ReconcileReport report;
  Plan plan{.next = state_};
  plan_reals(config, plan, report);
  plan_removed_vips(config, plan);

  // Writes, in an order where no packet sees a ring naming a real not yet written.
  write_config(df, plan.next);
  write_reals(plan, report);
  remove_vips(plan, report);
  for (const VipConfig& v : config.vips) {
    auto it = plan.next.vips.find(ServiceKey::of(v));
    if (it == plan.next.vips.end())
      add_vip(v, plan.next, report);
    else
      change_vip(v, it->second, plan.next, report);
  }
  // No ring names a removed real any more: clear it, so its flows re-hash.
  clear_removed_reals(plan, report);
  write_quarantine(plan);
  report.flows_forgotten = forget_lost_flows(plan.removed_vips, config, plan.next);
  state_ = std::move(plan.next);
  return report;
}

std::size_t Reconciler::forget_lost_flows(
    const std::vector<std::pair<ServiceKey, AppliedVip>>& removed_vips, const Config& config,
    const AppliedState& next) {
  // A real taken out of one VIP keeps its id while another VIP has it, so the
  // connection table would go on sending that VIP's flows to it: they must
  // re-hash like the flows of a real removed everywhere. Adopted VIPs' old reals
  // are unknown, and a removed VIP's flows must not outlive it (a VIP added again
  // gets a new ring): both are checked against what they have now.
  std::map<ServiceKey, std::set<std::uint32_t>> members;
  for (const auto& [key, vip] : removed_vips) members.emplace(key, std::set<std::uint32_t>{});
  for (const VipConfig& v : config.vips) {
    const AppliedVip* before = nullptr;
    if (auto it = state_.vips.find(ServiceKey::of(v)); it != state_.vips.end())
      before = &it->second;
    if (!before) continue;  // a new VIP: no flows yet
    std::set<IpAddress> now;
    for (const RealConfig& r : v.reals) now.insert(r.address);
    bool lost = before->ring_unknown ||
                std::any_of(before->reals.begin(), before->reals.end(),
                            [&](const RealConfig& r) { return !now.contains(r.address); });
    if (!lost) continue;
    std::set<std::uint32_t> ids;
    for (const IpAddress& a : now) ids.insert(next.real_ids.at(a));
    members.emplace(ServiceKey::of(v), std::move(ids));
  }
  if (members.empty()) return 0;
  // A flow is the VIP the program looked it up as, with the VIPs there were before this
  // change; many flows share a destination, so each is matched once.
  const VipMatcher before = VipMatcher::of(state_.vips);
  std::map<ServiceKey, const std::set<std::uint32_t>*> owners;  // by destination; null: kept
  return dp_.forget_flows([&](const df_flow_key& flow, const df_conn& conn) {
    const ServiceKey to = service_key_of(flow.vip);
    auto [it, fresh] = owners.try_emplace(to, nullptr);
    if (fresh)
      if (auto owner = before.owner(to); owner && members.contains(*owner))
        it->second = &members.at(*owner);
    return it->second && !it->second->contains(conn.real_id);
  });
}

}  // namespace dogfish
