#include "dogfish/reconciler.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <thread>

#include "dogfish/base/errors.hpp"
#include "dogfish/maglev.hpp"

namespace dogfish {
namespace {

constexpr std::uint32_t kMaxWeight = 65535;  // as the configuration file allows

// The (address, weight) set a ring is built from, in a fixed order.
std::vector<RealConfig> ring_input(std::vector<RealConfig> reals) {
  std::sort(reals.begin(), reals.end(),
            [](const RealConfig& a, const RealConfig& b) { return a.address < b.address; });
  return reals;
}

std::uint32_t other_ring(std::uint32_t vip_id, std::uint32_t ring) {
  return ring == vip_id * DF_RINGS_PER_VIP ? ring + 1 : vip_id * DF_RINGS_PER_VIP;
}

}  // namespace

std::string to_string(const ServiceKey& key) {
  return vip_name(VipConfig{.address = key.address, .port = key.port, .proto = key.proto});
}

df_vip_key to_df_key(const ServiceKey& key) {
  df_vip_key k{};
  std::memcpy(k.addr, key.address.bytes.data(), sizeof(k.addr));
  k.port = htons(key.port);
  k.proto = static_cast<std::uint8_t>(key.proto);
  k.family = key.address.family;
  return k;
}

// The address a map key or value holds (family DF_FAMILY_*, then the bytes).
static IpAddress address_of(std::uint8_t family, const std::uint8_t* bytes) {
  IpAddress address;
  address.family = family;
  std::memcpy(address.bytes.data(), bytes, address.size());
  return address;
}

df_vip_addr_key to_df_addr_key(const IpAddress& address) {
  df_vip_addr_key k{};
  std::memcpy(k.addr, address.bytes.data(), sizeof(k.addr));
  k.family = address.family;
  return k;
}

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
  for (const auto& [k, meta] : dp_.read_vips()) {
    IpAddress address = address_of(k.family, k.addr);
    ServiceKey key{address, ntohs(k.port), static_cast<Proto>(k.proto)};
    adopted.vips[key] = {
        .vip_id = meta.vip_id, .flags = meta.flags, .ring = meta.ring_slot, .ring_unknown = true};
    adopted.vip_addr_refs[address]++;
    // The other ring may have been read until just now.
    retired_[other_ring(meta.vip_id, meta.ring_slot)] = now;
  }
  std::set<std::uint32_t> used;
  for (const auto& [id, real] : dp_.read_reals()) {
    IpAddress address = address_of(real.family, real.addr);
    adopted.real_ids[address] = id;
    used.insert(id);
  }
  adopted.next_fresh_real_id = used.empty() ? 1 : *used.rbegin() + 1;
  for (std::uint32_t id = 1; id < adopted.next_fresh_real_id; id++)
    if (!used.contains(id)) adopted.freed_real_ids.push_back(id);
  // An address no adopted VIP lives on (its VIP went with the previous daemon) would
  // still make malformed packets to it count as ours.
  for (const df_vip_addr_key& k : dp_.read_vip_addrs()) {
    IpAddress address = address_of(k.family, k.addr);
    if (!adopted.vip_addr_refs.contains(address)) dp_.delete_vip_addr(k);
  }
  state_ = std::move(adopted);
}

void Reconciler::validate(const Config& config) const {
  const DataPlaneLimits& l = dp_.limits();
  if (config.ring_size != l.ring_size)
    throw Error(
        fmt::format("ring_size {} differs from the loaded program's {}: restart to change it",
                    config.ring_size, l.ring_size));
  if (config.vips.size() > l.max_vips)
    throw Error(fmt::format("{} VIPs, more than max_vips ({})", config.vips.size(), l.max_vips));
  std::set<ServiceKey> keys;
  std::set<IpAddress> reals;
  for (const VipConfig& v : config.vips) {
    if (!keys.insert(ServiceKey::of(v)).second)
      throw Error(fmt::format("VIP {} is configured twice", vip_name(v)));
    if ((v.flags & ~std::uint32_t(DF_VIP_NO_CONN_TABLE | DF_VIP_SRC_HASH_ONLY)) != 0)
      throw Error(fmt::format("VIP {} has unknown flags {:#x}", vip_name(v), v.flags));
    std::set<IpAddress> in_vip;
    for (const RealConfig& r : v.reals) {
      if (!in_vip.insert(r.address).second)
        throw Error(fmt::format("real {} is in VIP {} twice", r.address.to_string(), vip_name(v)));
      if (v.address.is_v6() && r.address.is_v4())
        throw Error(
            fmt::format("real {} is IPv4, VIP {} is IPv6", r.address.to_string(), vip_name(v)));
      if (r.weight > kMaxWeight)
        throw Error(fmt::format("real {} weight {} is over {}", r.address.to_string(), r.weight,
                                kMaxWeight));
      reals.insert(r.address);
    }
  }
  if (reals.size() > l.max_reals - 1)
    throw Error(fmt::format("{} distinct reals, more than max_reals - 1 ({})", reals.size(),
                            l.max_reals - 1));
}

std::uint32_t Reconciler::allocate_vip_id(const AppliedState& next) const {
  std::set<std::uint32_t> used;
  for (const auto& [key, vip] : next.vips) used.insert(vip.vip_id);
  std::uint32_t id = 0;
  while (used.contains(id)) id++;
  return id;  // validate() made sure there is room
}

std::uint32_t Reconciler::allocate_real_id(AppliedState& next) const {
  if (next.next_fresh_real_id < dp_.limits().max_reals) return next.next_fresh_real_id++;
  if (next.freed_real_ids.empty()) throw Error("no free real id");
  std::uint32_t id = next.freed_real_ids.front();
  next.freed_real_ids.pop_front();
  return id;
}

void Reconciler::write_ring(std::uint32_t ring, const std::vector<RealConfig>& reals,
                            const AppliedState& next) {
  std::vector<MaglevReal> input;
  input.reserve(reals.size());
  for (const RealConfig& r : reals)
    input.push_back({.address = r.address, .weight = r.weight, .id = next.real_ids.at(r.address)});
  std::vector<std::uint32_t> slots = Maglev(dp_.limits().ring_size).build(input);
  if (auto it = retired_.find(ring); it != retired_.end())
    std::this_thread::sleep_until(it->second + options_.ring_grace);
  dp_.write_ring(ring, slots);
}

ReconcileReport Reconciler::apply(const Config& config, const df_config& df) {
  validate(config);
  ReconcileReport report;
  AppliedState next = state_;

  // Reals: which leave, which come, ids for the newcomers (freed ids queue up
  // behind the others, so a departed real's id is the last to be handed out).
  std::set<IpAddress> wanted;
  for (const VipConfig& v : config.vips)
    for (const RealConfig& r : v.reals) wanted.insert(r.address);
  std::vector<std::uint32_t> removed_real_ids;
  for (auto it = next.real_ids.begin(); it != next.real_ids.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    removed_real_ids.push_back(it->second);
    it = next.real_ids.erase(it);
  }
  std::vector<std::pair<IpAddress, std::uint32_t>> added_reals;
  for (const IpAddress& a : wanted) {
    if (next.real_ids.contains(a)) continue;
    std::uint32_t id;
    if (next.next_fresh_real_id >= dp_.limits().max_reals && next.freed_real_ids.empty()) {
      id = removed_real_ids.back();  // the pool is empty: only now reuse at once
      removed_real_ids.pop_back();
    } else {
      id = allocate_real_id(next);
    }
    next.real_ids[a] = id;
    added_reals.emplace_back(a, id);
  }
  for (std::uint32_t id : removed_real_ids) next.freed_real_ids.push_back(id);

  // VIPs: which leave first, so their ids can be reused.
  std::set<ServiceKey> wanted_vips;
  for (const VipConfig& v : config.vips) wanted_vips.insert(ServiceKey::of(v));
  std::vector<std::pair<ServiceKey, AppliedVip>> removed_vips;
  for (auto it = next.vips.begin(); it != next.vips.end();) {
    if (wanted_vips.contains(it->first)) {
      ++it;
      continue;
    }
    removed_vips.emplace_back(*it);
    it = next.vips.erase(it);
  }

  // Writes, in an order where no packet sees a ring naming a real not yet written.
  if (!state_.config || std::memcmp(&*state_.config, &df, sizeof(df)) != 0) {
    dp_.set_config(df);
    next.config = df;
  }
  for (const auto& [address, id] : added_reals) {
    df_real r{};
    std::memcpy(r.addr, address.bytes.data(), sizeof(r.addr));
    r.family = address.family;
    dp_.put_real(id, r);
    report.reals_added++;
  }
  auto now = [] { return std::chrono::steady_clock::now(); };
  for (const auto& [key, vip] : removed_vips) {
    dp_.delete_vip(to_df_key(key));
    retired_[vip.ring] = now();
    if (--next.vip_addr_refs[key.address] == 0) {
      next.vip_addr_refs.erase(key.address);
      dp_.delete_vip_addr(to_df_addr_key(key.address));
    }
    report.vips_removed++;
  }
  for (const VipConfig& v : config.vips) {
    ServiceKey key = ServiceKey::of(v);
    auto it = next.vips.find(key);
    if (it == next.vips.end()) {
      AppliedVip vip{.vip_id = allocate_vip_id(next), .flags = v.flags, .reals = v.reals};
      vip.ring = vip.vip_id * DF_RINGS_PER_VIP;
      write_ring(vip.ring, vip.reals, next);
      report.rings_written++;
      if (next.vip_addr_refs[key.address]++ == 0) dp_.put_vip_addr(to_df_addr_key(key.address));
      dp_.put_vip(to_df_key(key),
                  {.vip_id = vip.vip_id, .flags = vip.flags, .ring_slot = vip.ring});
      next.vips.emplace(key, std::move(vip));
      report.vips_added++;
      continue;
    }
    AppliedVip& vip = it->second;
    bool new_ring = vip.ring_unknown || ring_input(vip.reals) != ring_input(v.reals);
    if (!new_ring && vip.flags == v.flags) {
      vip.reals = v.reals;  // only the order changed
      continue;
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
    dp_.put_vip(to_df_key(key), {.vip_id = vip.vip_id, .flags = vip.flags, .ring_slot = vip.ring});
    if (new_ring) retired_[old_ring] = now();
    report.vips_changed++;
  }
  // No ring names a removed real any more: clear it, so its flows re-hash.
  for (std::uint32_t id : removed_real_ids) {
    dp_.put_real(id, df_real{});
    report.reals_removed++;
  }
  report.flows_forgotten = forget_lost_flows(removed_vips, config, next);
  state_ = std::move(next);
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
  std::vector<std::pair<df_vip_key, std::set<std::uint32_t>>> members;
  for (const auto& [key, vip] : removed_vips)
    members.emplace_back(to_df_key(key), std::set<std::uint32_t>{});
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
    members.emplace_back(to_df_key(ServiceKey::of(v)), std::move(ids));
  }
  if (members.empty()) return 0;
  return dp_.forget_flows([&](const df_flow_key& flow, const df_conn& conn) {
    for (const auto& [key, ids] : members)
      if (std::memcmp(&flow.vip, &key, sizeof(key)) == 0) return !ids.contains(conn.real_id);
    return false;
  });
}

}  // namespace dogfish
