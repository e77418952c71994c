/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The balancer's maps. Sizes here are defaults: the control plane sets the real
 * ones between open and load (bpf_map__set_max_entries).
 */
#ifndef DOGFISH_BPF_MAPS_H
#define DOGFISH_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <dogfish/abi.h>

/* VIPs by (address, port, protocol, family); written by the control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DF_DEFAULT_MAX_VIPS);
	__type(key, struct df_vip_key);
	__type(value, struct df_vip_meta);
} vips SEC(".maps");

/*
 * The VIP map's generation: the control plane adds one after every write to `vips`,
 * which makes every CPU's copies in vip_cache stale. Pinned with the VIP map, so a
 * program left attached by a restart sees the new daemon's changes too.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vip_gen SEC(".maps");

/* What the VIP map said about one key, copied by the program (vip_cache.h). */
struct df_vip_cached {
	struct df_vip_key key;
	__u32 gen; /* vip_gen when copied: the copy holds while vip_gen does */
	struct df_vip_meta meta;
	__u32 found; /* 0: the key is no VIP */
};

#define DF_VIP_CACHE_BITS 8
#define DF_VIP_CACHE_SLOTS (1 << DF_VIP_CACHE_BITS)

/* The VIP map's answers, per CPU, in slots by a hash of the key; written by the program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DF_VIP_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct df_vip_cached);
} vip_cache SEC(".maps");

/* Addresses that carry at least one VIP; read only to classify malformed packets. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DF_MAX_VIP_ADDRS);
	__type(key, struct df_vip_addr_key);
	__type(value, __u32);
} vip_addrs SEC(".maps");

/*
 * Prefix VIPs by (family, protocol, port, prefix), asked only when the VIP map has no VIP for a
 * packet (vip_cache.h); written by the control plane, which bumps vip_gen after each write as
 * after one to `vips`. Tries allocate as they grow (the kernel requires BPF_F_NO_PREALLOC).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, DF_DEFAULT_MAX_VIPS);
	__type(key, struct df_prefix_key);
	__type(value, struct df_vip_meta);
} vip_prefixes SEC(".maps");

/* Prefixes that carry at least one prefix VIP (vip_addrs' counterpart); the control plane's. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, DF_MAX_VIP_ADDRS);
	__type(key, struct df_prefix_key);
	__type(value, __u32);
} vip_addr_pfxs SEC(".maps");

/* Reals by id (index); family 0 marks a free id. Written by the control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DF_DEFAULT_MAX_REALS);
	__type(key, __u32);
	__type(value, struct df_real);
} reals SEC(".maps");

/*
 * Reals of the health prober's marked packets, by the mark's slot (probe.h); family 0
 * marks a free slot. Apart from `reals`, since a real down in every VIP leaves that
 * one and must still be probed. Written by the control plane.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DF_DEFAULT_MAX_REALS);
	__type(key, __u32);
	__type(value, struct df_real);
} probe_reals SEC(".maps");

/*
 * Maglev rings, ring_size real ids each, DF_RINGS_PER_VIP per VIP: ring r holds
 * slots [r * ring_size, (r + 1) * ring_size). Written by the control plane into a
 * ring no VIP points at, then published by rewriting the VIP's meta. Mmapable,
 * so a whole ring is one memcpy, not ring_size syscalls.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, DF_DEFAULT_MAX_VIPS *DF_RINGS_PER_VIP *DF_DEFAULT_RING_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} rings SEC(".maps");

/*
 * The connection table: flow -> real id, written by the program (conn_table.h
 * says when). One table for every CPU, so a flow that moves CPU keeps its real,
 * with one LRU: any CPU may fill all of it. Per-CPU LRU lists
 * (BPF_F_NO_COMMON_LRU) or Katran's table per CPU would give each CPU a share
 * alone; bench/README.md weighs the designs by measurement.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DF_DEFAULT_CONN_ENTRIES);
	__type(key, struct df_flow_key);
	__type(value, struct df_conn);
} conn_table SEC(".maps");

/*
 * The last SYN seen in each slot (by flow hash): the handshake's ACK proves it
 * answers one and takes its real. One array for every CPU, since a SYN and its
 * ACK may arrive on different ones. Written by the program.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DF_SYN_SLOTS);
	__type(key, __u32);
	__type(value, struct df_syn_rec);
} syn_recs SEC(".maps");

/* The flood guard's token bucket, per CPU; written by the program. */
struct df_guard {
	__u64 stamp; /* coarse ns up to which tokens were added */
	__u32 tokens; /* entries this CPU may still write */
	__u32 refused_in; /* the last second (ns >> 30) in which it refused one */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_guard);
} conn_guard SEC(".maps");

/* Packets and bytes per VIP, by vip_id; written by the program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DF_DEFAULT_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct df_counter);
} vip_stats SEC(".maps");

/* Packets and bytes per real, by real id; written by the program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DF_DEFAULT_MAX_REALS);
	__type(key, __u32);
	__type(value, struct df_counter);
} real_stats SEC(".maps");

/*
 * Packets and bytes per (VIP, real), at vip_id * vip_real_stride + real_id (balancer.bpf.c);
 * written by the program. Sized max_vips x max_reals at load, or 1 when they are not kept.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DF_DEFAULT_MAX_VIPS *DF_DEFAULT_MAX_REALS);
	__type(key, __u32);
	__type(value, struct df_counter);
} vip_real_stats SEC(".maps");

/* Reason and connection-table counters, one entry; written by the program. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_global_stats);
} global_stats SEC(".maps");

/* Bytes copied out of a frame to be summed (ICMP checksums), one buffer; the program's own. */
#define SCRATCH_BYTES 4096 /* more than a linear XDP frame holds */
struct scratch_buf {
	__u8 bytes[SCRATCH_BYTES + 4]; /* + a word of zero padding after the copy */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch_buf);
} scratch SEC(".maps");

#endif /* DOGFISH_BPF_MAPS_H */
