// What the control plane asks of the data plane. BpfDataPlane does it with the
// real maps; unit tests of the control logic use a fake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "dogfish/base/abi.hpp"

namespace dogfish {

// Sizes fixed when the program is loaded.
struct DataPlaneLimits {
  uint32_t ring_size = DF_DEFAULT_RING_SIZE;
  uint32_t max_vips = DF_DEFAULT_MAX_VIPS;
  uint32_t max_reals = DF_DEFAULT_MAX_REALS;
  uint32_t conn_entries = DF_DEFAULT_CONN_ENTRIES;
};

// Counters summed over CPUs.
struct DataPlaneStats {
  df_global_stats global{};
  std::vector<df_counter> vips;   // by vip_id
  std::vector<df_counter> reals;  // by real id
  // By (vip_id, real id), for the pairs asked for (vip_real_stats() below).
  std::map<std::pair<uint32_t, uint32_t>, df_counter> vip_reals;
};

class DataPlane {
 public:
  virtual ~DataPlane() = default;

  virtual const DataPlaneLimits& limits() const = 0;
  // Inserts or replaces a VIP; replacing is atomic, so this is how a new ring is published.
  virtual void put_vip(const df_vip_key& key, const df_vip_meta& meta) = 0;
  virtual void delete_vip(const df_vip_key& key) = 0;
  virtual void put_vip_addr(const df_vip_addr_key& key) = 0;
  virtual void delete_vip_addr(const df_vip_addr_key& key) = 0;
  // Prefix VIPs, in their trie: as put_vip and delete_vip (replacing is atomic too).
  virtual void put_vip_prefix(const df_prefix_key& key, const df_vip_meta& meta) = 0;
  virtual void delete_vip_prefix(const df_prefix_key& key) = 0;
  // The prefixes prefix VIPs live on, as put_vip_addr's addresses (proto and port 0).
  virtual void put_vip_addr_prefix(const df_prefix_key& key) = 0;
  virtual void delete_vip_addr_prefix(const df_prefix_key& key) = 0;
  // A real with family 0 frees the id.
  virtual void put_real(uint32_t id, const df_real& real) = 0;
  // The real that health probes marked DF_PROBE_MARK | slot go to; family 0 frees the slot.
  virtual void put_probe_real(uint32_t slot, const df_real& real) = 0;
  // Writes ring number `ring` (0 .. max_vips * DF_RINGS_PER_VIP - 1) whole.
  virtual void write_ring(uint32_t ring, std::span<const uint32_t> real_ids) = 0;
  // Ring number `ring` as the program reads it (every balancer's, compared, must be the same).
  virtual std::vector<uint32_t> read_ring(uint32_t ring) const = 0;
  virtual void set_config(const df_config& config) = 0;
  // When a real id was freed (CLOCK_MONOTONIC ns, the steady clock's and bpf_ktime_get_ns's
  // time; 0: not waiting), kept with the pins: a restarted daemon honours the quarantine.
  virtual void set_real_freed_at(uint32_t id, uint64_t ns) = 0;
  virtual std::vector<std::pair<uint32_t, uint64_t>> read_freed_reals() const = 0;  // ns != 0
  // Deletes the connection-table entries `forget` picks; returns how many went.
  using FlowFilter = std::function<bool(const df_flow_key&, const df_conn&)>;
  virtual std::size_t forget_flows(const FlowFilter& forget) = 0;
  // The connection table's entry for one flow, read only; nothing when it holds none.
  virtual std::optional<df_conn> find_flow(const df_flow_key& key) const = 0;
  // What the maps hold now: for a restarted daemon adopting pinned maps.
  virtual std::vector<std::pair<df_vip_key, df_vip_meta>> read_vips() const = 0;
  virtual std::vector<std::pair<uint32_t, df_real>> read_reals() const = 0;  // family != 0 only
  virtual std::vector<df_vip_addr_key> read_vip_addrs() const = 0;
  virtual std::vector<std::pair<df_prefix_key, df_vip_meta>> read_vip_prefixes() const = 0;
  virtual std::vector<df_prefix_key> read_vip_addr_prefixes() const = 0;
  virtual df_config config() const = 0;
  virtual DataPlaneStats stats() const = 0;
  // Packets and bytes sent to one real for one VIP (zero when such counters are not kept).
  virtual df_counter vip_real_stats(uint32_t vip_id, uint32_t real_id) const = 0;
};

// True when the data plane keeps per-(VIP, real) counters for these limits: its array of
// max_vips x max_reals would not be over DF_MAX_VIP_REAL_COUNTERS.
inline bool keeps_vip_real_stats(const DataPlaneLimits& l) {
  return uint64_t(l.max_vips) * l.max_reals <= DF_MAX_VIP_REAL_COUNTERS;
}

}  // namespace dogfish
