/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* What bench.bpf.c and dogfish-bench agree on. */
#ifndef DOGFISH_BENCH_ABI_H
#define DOGFISH_BENCH_ABI_H

/*
 * Every benchmark frame is this long (the packet, then zero padding): the
 * wrapper restores it with a fixed-size copy, the same cost on every path.
 */
#define DF_BENCH_FRAME_WORDS 12
#define DF_BENCH_FRAME_LEN (DF_BENCH_FRAME_WORDS * 8)

/* Ethernet header, then the IPv4 source address at offset 12 of the IPv4 header. */
#define DF_BENCH_IPV4_SADDR_OFF (14 + 12)

#endif /* DOGFISH_BENCH_ABI_H */
