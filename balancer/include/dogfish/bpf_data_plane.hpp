// The balancer's BPF object, owned: open -> size the maps -> load (adopting
// pinned maps when told to) -> attach; detached and destroyed in the destructor
// unless released for a successor process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dogfish/base/abi.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/base/skeleton.hpp"
#include "dogfish/base/xdp.hpp"
#include "dogfish/data_plane.hpp"
#include "dogfish/df_structs.hpp"

// After the ABI: the skeleton names its structs without including it.
#include "balancer.skel.h"

namespace dogfish {

struct BpfDataPlaneOptions {
  DataPlaneLimits limits;
  // Directory under bpffs where the stateful maps are pinned; empty: no pinning.
  // Maps already pinned there are adopted (a restart keeps VIPs and connections).
  std::string pin_dir;
};

class BpfDataPlane : public DataPlane {
 public:
  explicit BpfDataPlane(const BpfDataPlaneOptions& options);
  ~BpfDataPlane() override;
  BpfDataPlane(const BpfDataPlane&) = delete;
  BpfDataPlane& operator=(const BpfDataPlane&) = delete;

  // Attaches to the interface, replacing any program there (atomically, so a
  // restarted daemon drops no packet). automatic tries native, then generic.
  // Returns the mode in use.
  XdpMode attach(const std::string& ifname, XdpMode mode);
  void detach();
  // Leaves the program attached and the maps pinned when this object dies.
  void release() { released_ = true; }
  // Removes the pinned maps (after detach, when shutting down for good).
  void unpin();

  bool adopted() const { return adopted_; }
  int prog_fd() const;
  int conn_table_fd() const;

  const DataPlaneLimits& limits() const override { return options_.limits; }
  void put_vip(const df_vip_key& key, const df_vip_meta& meta) override;
  void delete_vip(const df_vip_key& key) override;
  void put_vip_addr(const df_vip_addr_key& key) override;
  void delete_vip_addr(const df_vip_addr_key& key) override;
  void put_real(uint32_t id, const df_real& real) override;
  void write_ring(uint32_t ring, std::span<const uint32_t> real_ids) override;
  void set_config(const df_config& config) override;
  void set_real_freed_at(uint32_t id, uint64_t ns) override;
  std::vector<std::pair<uint32_t, uint64_t>> read_freed_reals() const override;
  std::size_t forget_flows(const FlowFilter& forget) override;
  std::vector<std::pair<df_vip_key, df_vip_meta>> read_vips() const override;
  std::vector<std::pair<uint32_t, df_real>> read_reals() const override;
  std::vector<df_vip_addr_key> read_vip_addrs() const override;
  df_config config() const override;
  DataPlaneStats stats() const override;

 private:
  // When each freed real id was freed, pinned as pin_dir/real_freed.
  static constexpr const char* kFreedRealsPin = "real_freed";
  void open_freed_reals();
  // After every write to the VIP map: the program's copies of it are stale.
  void vips_changed();

  BpfDataPlaneOptions options_;
  Skeleton<balancer_bpf> skel_{{balancer_bpf__open, balancer_bpf__load, balancer_bpf__destroy}};
  UniqueFd freed_reals_;
  uint8_t* rings_ = nullptr;
  size_t rings_len_ = 0;
  int ifindex_ = 0;
  XdpMode attached_mode_ = XdpMode::native;
  bool adopted_ = false;
  bool released_ = false;
};

}  // namespace dogfish
