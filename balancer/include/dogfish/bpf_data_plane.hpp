// The balancer's BPF object, owned: open -> size the maps -> load (adopting
// pinned maps when told to) -> attach; detached and destroyed in the destructor
// unless released for a successor process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dogfish/base/abi.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/base/skeleton.hpp"
#include "dogfish/base/tc.hpp"
#include "dogfish/base/xdp.hpp"
#include "dogfish/data_plane.hpp"
#include "dogfish/df_structs.hpp"

// After the ABI: the skeleton names its structs without including it.
#include "balancer.skel.h"

namespace dogfish {

struct BpfDataPlaneOptions {
  DataPlaneLimits limits;
  // Directory under bpffs where the stateful maps are pinned; empty: no pinning.
  // Maps already pinned there are adopted (a restart keeps VIPs and connections), once their
  // ABI stamp (the pinned map "abi") says this build's layout.
  std::string pin_dir;
  // A BPF object file to load instead of the one built in: a rebuilt balancer.bpf.o with the
  // same maps and ABI (an upgrade of the data plane alone). Empty: the built-in one.
  std::string object_file;
};

// The files BpfDataPlane pins in its directory: the maps, the freed real ids "real_freed" and
// the ABI stamp "abi".
std::vector<std::string> balancer_pin_names();

// Where the health probes' encapsulation (the tc program beside the XDP one) sits on an
// interface: its clsact egress hook, in dogfish's filter slot.
TcSlot probe_encap_slot(int ifindex);

// The pinned maps were made by a build of another ABI (or of none): they cannot be adopted.
class AbiMismatch : public Error {
 public:
  using Error::Error;
};

// The ABI stamp of a pin directory: DF_ABI_VERSION and a fingerprint of the layouts.
struct AbiStamp {
  std::uint32_t version = 0;
  std::uint32_t layout = 0;
  bool operator==(const AbiStamp&) const = default;
};
AbiStamp this_abi();
// What the directory's "abi" says; nothing when it has none.
std::optional<AbiStamp> pinned_abi(const std::string& pin_dir);

class BpfDataPlane : public DataPlane {
 public:
  explicit BpfDataPlane(const BpfDataPlaneOptions& options);
  ~BpfDataPlane() override;
  BpfDataPlane(const BpfDataPlane&) = delete;
  BpfDataPlane& operator=(const BpfDataPlane&) = delete;

  // Attaches to the interface. A program there that uses these maps (a predecessor's, on the
  // same pins) is replaced atomically, so a restart or an upgrade drops no packet; any other is
  // refused with XdpBusy naming it, unless `replace_foreign`. automatic tries native, then
  // generic. The probe encapsulation goes on the interface's tc egress beside it.
  // Returns the XDP mode in use.
  XdpMode attach(const std::string& ifname, XdpMode mode, bool replace_foreign = false);
  void detach();
  bool attached() const { return ifindex_ != 0; }
  // True when program `id` uses this object's maps (the connection table).
  bool uses_our_maps(std::uint32_t prog_id) const;
  // Leaves the program attached and the maps pinned when this object dies.
  void release() { released_ = true; }
  // The loaded program's id and tag (hex), for logs.
  std::uint32_t prog_id() const;
  std::string prog_tag() const;
  // Removes the pinned maps (after detach, when shutting down for good).
  void unpin();

  bool adopted() const { return adopted_; }
  int prog_fd() const;
  int probe_prog_fd() const;  // tc egress: the health prober's marked packets
  int conn_table_fd() const;

  const DataPlaneLimits& limits() const override { return options_.limits; }
  void put_vip(const df_vip_key& key, const df_vip_meta& meta) override;
  void delete_vip(const df_vip_key& key) override;
  void put_vip_addr(const df_vip_addr_key& key) override;
  void delete_vip_addr(const df_vip_addr_key& key) override;
  void put_vip_prefix(const df_prefix_key& key, const df_vip_meta& meta) override;
  void delete_vip_prefix(const df_prefix_key& key) override;
  void put_vip_addr_prefix(const df_prefix_key& key) override;
  void delete_vip_addr_prefix(const df_prefix_key& key) override;
  void put_real(uint32_t id, const df_real& real) override;
  void put_probe_real(uint32_t slot, const df_real& real) override;
  void write_ring(uint32_t ring, std::span<const uint32_t> real_ids) override;
  std::vector<uint32_t> read_ring(uint32_t ring) const override;
  void set_config(const df_config& config) override;
  void set_real_freed_at(uint32_t id, uint64_t ns) override;
  std::vector<std::pair<uint32_t, uint64_t>> read_freed_reals() const override;
  std::size_t forget_flows(const FlowFilter& forget) override;
  std::optional<df_conn> find_flow(const df_flow_key& key) const override;
  std::vector<std::pair<df_vip_key, df_vip_meta>> read_vips() const override;
  std::vector<std::pair<uint32_t, df_real>> read_reals() const override;
  std::vector<df_vip_addr_key> read_vip_addrs() const override;
  std::vector<std::pair<df_prefix_key, df_vip_meta>> read_vip_prefixes() const override;
  std::vector<df_prefix_key> read_vip_addr_prefixes() const override;
  df_config config() const override;
  DataPlaneStats stats() const override;
  df_counter vip_real_stats(uint32_t vip_id, uint32_t real_id) const override;

 private:
  // When each freed real id was freed, pinned as pin_dir/real_freed.
  void open_freed_reals();
  // A VIP's entry in one of the VIP maps (vips, vip_prefixes), its id checked.
  void write_vip(const bpf_map* map, const void* key, const df_vip_meta& meta, const char* what);
  // After every write to a VIP map (vips, vip_prefixes): the program's copies are stale.
  void vips_changed();

  BpfDataPlaneOptions options_;
  Skeleton<balancer_bpf> skel_;
  UniqueFd freed_reals_;
  uint8_t* rings_ = nullptr;
  size_t rings_len_ = 0;
  int ifindex_ = 0;
  std::string ifname_;
  XdpMode attached_mode_ = XdpMode::native;
  bool adopted_ = false;
  bool released_ = false;
};

}  // namespace dogfish
