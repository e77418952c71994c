// The ABI of <dogfish/abi.h> and <dogfish/decap_abi.h> as C++ sees it, checked at
// compile time: a struct that changed size or moved a field on one side fails the
// build, not a packet.
#pragma once

#include <dogfish/abi.h>
#include <dogfish/decap_abi.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace dogfish::abi_checks {

static_assert(sizeof(df_vip_key) == 20);
static_assert(offsetof(df_vip_key, port) == 16);
static_assert(offsetof(df_vip_key, proto) == 18);
static_assert(offsetof(df_vip_key, family) == 19);

static_assert(sizeof(df_vip_meta) == 16);
static_assert(offsetof(df_vip_meta, ring_slot) == 8);

static_assert(sizeof(df_vip_addr_key) == 20);

// A trie's key: prefixlen, then the bits it counts, head first.
static_assert(sizeof(df_prefix_key) == 24);
static_assert(offsetof(df_prefix_key, family) == 4);
static_assert(offsetof(df_prefix_key, port) == 6);
static_assert(offsetof(df_prefix_key, addr) == 4 + DF_PREFIX_HEAD_BITS / 8);
static_assert(DF_PREFIX_KEY_BITS == (sizeof(df_prefix_key) - 4) * 8);
static_assert(sizeof(df_real) == 20);
static_assert(offsetof(df_real, family) == 16);
static_assert(offsetof(df_real, encap) == 17);

// The flow key starts with the VIP key: the program looks VIPs up with its head.
static_assert(sizeof(df_flow_key) == 40);
static_assert(offsetof(df_flow_key, vip) == 0);
static_assert(offsetof(df_flow_key, src) == sizeof(df_vip_key));
static_assert(offsetof(df_flow_key, sport) == 36);

static_assert(sizeof(df_conn) == 12);
static_assert(sizeof(df_syn_rec) == 56);
static_assert(offsetof(df_syn_rec, flow) == 16);
static_assert(sizeof(df_counter) == 16);
static_assert(sizeof(df_global_stats) == (DF_REASON_MAX + 9) * sizeof(__u64));

static_assert(sizeof(df_config) == 52);
static_assert(offsetof(df_config, max_pkt_size) == 8);
static_assert(offsetof(df_config, src4_prefix) == 16);
static_assert(offsetof(df_config, src6_prefix) == 28);
static_assert(offsetof(df_config, conn_insert_rate) == 44);
static_assert(offsetof(df_config, gue_port) == 48);

static_assert(DF_TX < DF_FIRST_PASS && DF_FIRST_PASS < DF_FIRST_DROP &&
              DF_FIRST_DROP < DF_REASON_MAX);

static_assert(sizeof(df_decap_addr) == 20);
static_assert(offsetof(df_decap_addr, family) == 16);
static_assert(sizeof(df_decap_config) == 8);
static_assert(sizeof(df_decap_prefix) == 24);
static_assert(offsetof(df_decap_prefix, family) == 4);
static_assert(offsetof(df_decap_prefix, addr) == 5);
static_assert(sizeof(df_decap_stats) == 8 * (DF_DECAP_REASON_MAX + DF_DECAP_TYPES));
static_assert(offsetof(df_decap_stats, decap_bytes) == 8 * DF_DECAP_REASON_MAX);

}  // namespace dogfish::abi_checks

namespace dogfish {

// One step of FNV-1a over a 32-bit value, from kFnvBasis.
inline constexpr std::uint32_t kFnvBasis = 2166136261u;
inline constexpr std::uint32_t fnv1a(std::uint32_t h, std::uint64_t v) {
  return (h ^ static_cast<std::uint32_t>(v)) * 16777619u;
}

// A fingerprint of what the balancer's pinned maps hold: each struct's size and the constants
// that size or index them. Changing any changes it, DF_ABI_VERSION bumped or not. The stamp
// also folds in which maps are pinned (bpf_data_plane.cpp).
inline constexpr std::uint32_t balancer_layout_fingerprint() {
  std::uint32_t h = kFnvBasis;
  for (std::uint64_t v :
       {sizeof(df_vip_key), sizeof(df_vip_meta), sizeof(df_vip_addr_key), sizeof(df_real),
        sizeof(df_flow_key), sizeof(df_conn), sizeof(df_counter), sizeof(df_global_stats),
        sizeof(df_config), sizeof(df_syn_rec), std::size_t{DF_SYN_SLOTS},
        std::size_t{DF_REASON_MAX}, std::size_t{DF_RINGS_PER_VIP}, std::size_t{DF_RING_MMAP_STRIDE},
        std::size_t{DF_TICK_SHIFT}, sizeof(df_prefix_key), std::size_t{DF_PREFIX_HEAD_BITS}}) {
    h = fnv1a(h, v);
  }
  return h;
}

}  // namespace dogfish
