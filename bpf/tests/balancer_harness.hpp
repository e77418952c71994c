// The real balancer object, loaded fresh for each test, with helpers to
// configure it the way the control plane would and to run frames through
// BPF_PROG_TEST_RUN.
#pragma once

#include <dogfish/abi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "support/packet.hpp"

struct balancer_bpf;

namespace dogfish::testing {

constexpr uint32_t kTestRingSize = 257;  // small prime: rings fill fast, hashing still spreads

struct RunResult {
  int verdict;  // XDP_*
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
  void add_real(uint32_t id, const std::string& addr);
  void remove_real(uint32_t id);
  // Writes the VIP's inactive ring with `ids` repeated over all slots, then flips to it.
  void set_ring(uint32_t vip_id, const std::vector<uint32_t>& ids);

  df_config& config();
  RunResult run(const Bytes& frame);

  df_global_stats global_stats() const;
  df_counter vip_stats(uint32_t vip_id) const;
  df_counter real_stats(uint32_t real_id) const;
  bool conn_lookup(const df_flow_key& key, df_conn* out) const;
  void conn_update(const df_flow_key& key, const df_conn& value);
  size_t conn_count() const;

 private:
  struct Vip {
    df_vip_key key;
    df_vip_meta meta;
  };
  balancer_bpf* skel_ = nullptr;
  uint32_t* rings_ = nullptr;  // the mmap'd ring array
  size_t rings_len_ = 0;
  std::vector<Vip> vips_;
};

// The flow key the program builds for a packet, for looking at the connection table.
df_flow_key flow_key(const std::string& src, uint16_t sport, const std::string& dst,
                     uint16_t dport, uint8_t proto);

}  // namespace dogfish::testing
