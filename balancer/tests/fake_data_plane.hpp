// A DataPlane in memory, counting what was written and failing the write it is told
// to: for unit tests of the control logic, no root needed.
#pragma once

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "dogfish/data_plane.hpp"

namespace dogfish {

// Orders ABI keys by their bytes (they have no padding left uninitialised here).
struct BytesLess {
  template <typename T>
  bool operator()(const T& a, const T& b) const {
    return std::memcmp(&a, &b, sizeof(T)) < 0;
  }
};

class FakeDataPlane : public DataPlane {
 public:
  explicit FakeDataPlane(DataPlaneLimits limits = {.ring_size = 13, .max_vips = 4, .max_reals = 8})
      : limits_(limits), reals(limits.max_reals) {}

  const DataPlaneLimits& limits() const override { return limits_; }
  void put_vip(const df_vip_key& key, const df_vip_meta& meta) override {
    write();
    vips[key] = meta;
  }
  void delete_vip(const df_vip_key& key) override {
    write();
    vips.erase(key);
  }
  void put_vip_addr(const df_vip_addr_key& key) override {
    write();
    vip_addrs[key] = 1;
  }
  void delete_vip_addr(const df_vip_addr_key& key) override {
    write();
    vip_addrs.erase(key);
  }
  void put_vip_prefix(const df_prefix_key& key, const df_vip_meta& meta) override {
    write();
    vip_prefixes[key] = meta;
  }
  void delete_vip_prefix(const df_prefix_key& key) override {
    write();
    vip_prefixes.erase(key);
  }
  void put_vip_addr_prefix(const df_prefix_key& key) override {
    write();
    vip_addr_prefixes[key] = 1;
  }
  void delete_vip_addr_prefix(const df_prefix_key& key) override {
    write();
    vip_addr_prefixes.erase(key);
  }
  void put_real(uint32_t id, const df_real& real) override {
    write();
    if (real.family != 0 && before_real_written) before_real_written(id);
    reals.at(id) = real;
  }
  // Not counted as a write: the controller's, not the reconciler's, whose tests count them.
  void put_probe_real(uint32_t slot, const df_real& real) override {
    if (slot >= limits_.max_reals) throw std::logic_error("probe slot");
    if (real.family == 0)
      probe_reals.erase(slot);
    else
      probe_reals[slot] = real;
  }
  void write_ring(uint32_t ring, std::span<const uint32_t> ids) override {
    if (ids.size() != limits_.ring_size) throw std::logic_error("ring size");
    write();
    ring_writes.push_back(ring);
    rings[ring].assign(ids.begin(), ids.end());
  }
  std::vector<uint32_t> read_ring(uint32_t ring) const override {
    auto it = rings.find(ring);
    return it == rings.end() ? std::vector<uint32_t>(limits_.ring_size, 0) : it->second;
  }
  void set_config(const df_config& c) override {
    write();
    config_ = c;
  }
  std::size_t forget_flows(const FlowFilter& forget) override {
    write();
    forget_scans++;
    return std::erase_if(conns, [&](const auto& kv) { return forget(kv.first, kv.second); });
  }
  std::optional<df_conn> find_flow(const df_flow_key& key) const override {
    auto it = conns.find(key);
    if (it == conns.end()) return std::nullopt;
    return it->second;
  }
  void set_real_freed_at(uint32_t id, uint64_t ns) override {
    write();
    if (ns)
      freed_at[id] = ns;
    else
      freed_at.erase(id);
  }
  std::vector<std::pair<uint32_t, uint64_t>> read_freed_reals() const override {
    return {freed_at.begin(), freed_at.end()};
  }
  df_config config() const override { return config_; }
  std::vector<std::pair<df_vip_key, df_vip_meta>> read_vips() const override {
    return {vips.begin(), vips.end()};
  }
  std::vector<std::pair<uint32_t, df_real>> read_reals() const override {
    std::vector<std::pair<uint32_t, df_real>> out;
    for (uint32_t id = 1; id < reals.size(); id++)
      if (reals[id].family != 0) out.emplace_back(id, reals[id]);
    return out;
  }
  std::vector<df_vip_addr_key> read_vip_addrs() const override {
    std::vector<df_vip_addr_key> out;
    for (const auto& [key, refs] : vip_addrs) out.push_back(key);
    return out;
  }
  std::vector<std::pair<df_prefix_key, df_vip_meta>> read_vip_prefixes() const override {
    return {vip_prefixes.begin(), vip_prefixes.end()};
  }
  std::vector<df_prefix_key> read_vip_addr_prefixes() const override {
    std::vector<df_prefix_key> out;
    for (const auto& [key, refs] : vip_addr_prefixes) out.push_back(key);
    return out;
  }
  DataPlaneStats stats() const override {
    DataPlaneStats s;
    s.global.reason[DF_TX] = 7;
    s.vips.resize(limits_.max_vips);
    s.reals.resize(limits_.max_reals);
    return s;
  }
  df_counter vip_real_stats(uint32_t vip_id, uint32_t real_id) const override {
    auto it = vip_real_counters.find({vip_id, real_id});
    return it == vip_real_counters.end() ? df_counter{} : it->second;
  }

  DataPlaneLimits limits_;
  std::map<std::pair<uint32_t, uint32_t>, df_counter> vip_real_counters;  // what the tests set
  std::map<df_vip_key, df_vip_meta, BytesLess> vips;
  std::map<df_vip_addr_key, uint32_t, BytesLess> vip_addrs;
  std::map<df_prefix_key, df_vip_meta, BytesLess> vip_prefixes;
  std::map<df_prefix_key, uint32_t, BytesLess> vip_addr_prefixes;
  std::vector<df_real> reals;
  std::map<uint32_t, std::vector<uint32_t>> rings;
  std::map<uint32_t, df_real> probe_reals;  // the written slots only
  std::vector<uint32_t> ring_writes;
  std::map<df_flow_key, df_conn, BytesLess> conns;  // the connection table, filled by tests
  int forget_scans = 0;
  std::map<uint32_t, uint64_t> freed_at;
  df_config config_{};
  int writes = 0;      // every change, forget_flows scans included
  int fail_write = 0;  // this write (1 = the next) fails, changing nothing; 0: none fails
  // Called before each real is written with an address (not cleared): what packets could
  // read at that moment, for tests of write order.
  std::function<void(uint32_t id)> before_real_written;

 private:
  void write() {
    if (++writes == fail_write) throw OsError(EIO, "fake write " + std::to_string(writes));
  }
};

}  // namespace dogfish
