/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* What lab_bench.bpf.c and dogfish-loadgen agree on. */
#ifndef DOGFISH_LAB_BENCH_ABI_H
#define DOGFISH_LAB_BENCH_ABI_H

/* The generated frame: Ethernet 14 + IPv4 20 + UDP 8 + 22 bytes of payload = 64. */
#define DF_GEN_FRAME_WORDS 8
#define DF_GEN_FRAME_LEN (DF_GEN_FRAME_WORDS * 8)

/* The UDP source port: after the Ethernet and the option-less IPv4 header. */
#define DF_GEN_UDP_SPORT_OFF (14 + 20)

#endif /* DOGFISH_LAB_BENCH_ABI_H */
