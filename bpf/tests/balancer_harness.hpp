// The real balancer object, loaded fresh for each test through the control
// plane's own BpfDataPlane, with helpers to configure it and to run frames
// through BPF_PROG_TEST_RUN.
#pragma once

#include <dogfish/abi.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dogfish/bpf_data_plane.hpp"
#include "support/packet.hpp"

namespace dogfish::testing {

constexpr uint32_t kTestRingSize = 257;  // small prime: rings fill fast, hashing still spreads

struct RunResult {
  int verdict;  // XDP_*, or TC_ACT_* from run_probe
  Bytes frame;
};

class BalancerHarness {
 public:
  BalancerHarness();
  ~BalancerHarness();
  BalancerHarness(const BalancerHarness&) = delete;
  BalancerHarness& operator=(const BalancerHarness&) = delete;

  // A VIP on (address, port, proto) with the given DF_VIP_* flags; returns its vip_id.
  uint32_t add_vip(const std::string& addr, uint16_t port, uint8_t proto, uint32_t flags = 0);
  // A prefix VIP on every address of `prefix` ("10.120.1.0/24"), written as the control plane
  // writes one (its trie entry, and its prefix among the VIP addresses); returns its vip_id.
  uint32_t add_prefix_vip(const std::string& prefix, uint16_t port, uint8_t proto,
                          uint32_t flags = 0);
  void remove_vip(uint32_t vip_id);
  void set_vip_flags(uint32_t vip_id, uint32_t flags);
  void add_real(uint32_t id, const std::string& addr, uint8_t encap = DF_ENCAP_IPIP);
  void remove_real(uint32_t id);
  // The real that probes marked DF_PROBE_MARK | slot go to.
  void add_probe_real(uint32_t slot, const std::string& addr, uint8_t encap = DF_ENCAP_IPIP);
  // Writes the VIP's inactive ring with `ids` repeated over all slots, then flips to it.
  void set_ring(uint32_t vip_id, const std::vector<uint32_t>& ids);

  // The live configuration: change fields with update_config.
  df_config config() const { return dp_->config(); }
  template <typename F>
  void update_config(F change) {
    df_config c = dp_->config();
    change(c);
    dp_->set_config(c);
  }
  RunResult run(const Bytes& frame);
  // `frame` through the tc egress program (probe_encap), as a packet with `mark`.
  RunResult run_probe(const Bytes& frame, uint32_t mark);

  df_global_stats global_stats() const { return dp_->stats().global; }
  df_counter vip_stats(uint32_t vip_id) const { return dp_->stats().vips.at(vip_id); }
  df_counter real_stats(uint32_t real_id) const { return dp_->stats().reals.at(real_id); }
  df_counter vip_real_stats(uint32_t vip_id, uint32_t real_id) const {
    return dp_->vip_real_stats(vip_id, real_id);
  }
  bool conn_lookup(const df_flow_key& key, df_conn* out) const;
  // The control plane's own reads: its connection-table lookup and the VIP's live ring.
  std::optional<df_conn> find_flow(const df_flow_key& key) const { return dp_->find_flow(key); }
  std::vector<uint32_t> live_ring(uint32_t vip_id) const {
    return dp_->read_ring(vips_.at(vip_id).meta.ring_slot);
  }
  void conn_update(const df_flow_key& key, const df_conn& value);
  size_t conn_count() const;
  // A map of the loaded program by name (the program's own, not a copy); -1 if none.
  int map_fd(const std::string& name) const;

 private:
  struct Vip {
    df_vip_key key;
    std::optional<df_prefix_key> prefix;  // a prefix VIP's key, in place of `key`
    df_vip_meta meta;
  };
  void put(const Vip& v);
  std::unique_ptr<BpfDataPlane> dp_;
  std::vector<Vip> vips_;
  mutable std::vector<int> map_fds_;
};

// What the connection-table and VIP-copy tests start from: a TCP VIP on kVip4:80, reals 1
// (kReal4a) and 2 (kReal4b), the VIP's ring all real 1. Returns the VIP's id.
uint32_t add_tcp80_two_reals(BalancerHarness& lb);

// Runs `frame` and checks, as gtest failures, that it leaves untouched with `verdict`,
// counted under `reason` alone, and that no connection was remembered.
void expect_untouched(BalancerHarness& lb, const Bytes& frame, int verdict, df_reason reason);

// The flow key the program builds for a packet, for looking at the connection table.
df_flow_key flow_key(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
                     uint8_t proto);

}  // namespace dogfish::testing
