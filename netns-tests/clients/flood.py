"""Floods a TCP service with SYNs (or bare ACKs) from random sources: FLOWS frames, each a
flow of its own (random source address, port and sequence number, correct IPv4 and TCP
checksums), built ahead and then sent round and round for SECONDS, as fast as one AF_PACKET
socket sends, onto an interface as a router would hand them on. The sender moves from CPU to
CPU every 1024 frames: a veth runs its peer's XDP program on the sending CPU, so the flood
reaches the balancer on every CPU, as a NIC's queues would spread it.
    dogfish-lab exec gw -- python3 flood.py --iface lb --dst-mac M --src-mac M \\
        --dst 10.100.0.1 --port 80 --sources 198.18.0.0/15 --flows 65536 --seconds 5 [--ack]
Prints one JSON line when it starts sending ({"started": true}) and one at the end:
{"sent": n, "flows": f, "seconds": s, "pps": p}."""
import argparse
import errno
import ipaddress
import json
import os
import random
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(eth, src, dst, sport, dport, flags, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return eth + ip + tcp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--dst", required=True, help="the VIP (IPv4)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sources", required=True, help="IPv4 prefix the sources are drawn from")
    ap.add_argument("--flows", type=int, default=65536, help="distinct flows sent round and round")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--ack", action="store_true", help="bare ACKs instead of SYNs")
    args = ap.parse_args()

    mac = lambda text: bytes.fromhex(text.replace(":", ""))  # noqa: E731
    eth = mac(args.dst_mac) + mac(args.src_mac) + b"\x08\x00"
    net = ipaddress.ip_network(args.sources)
    dst = ipaddress.ip_address(args.dst).packed
    flags = 0x10 if args.ack else 0x02
    rand = random.Random()

    base = int(net.network_address)
    flows = {
        (base + rand.randrange(1, net.num_addresses - 1), rand.randrange(1024, 65536))
        for _ in range(args.flows)
    }
    frames = [
        frame(eth, src.to_bytes(4, "big"), dst, sport, args.port, flags, rand.getrandbits(32))
        for src, sport in flows
    ]

    cpus = sorted(os.sched_getaffinity(0))
    sent = 0
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((args.iface, 0))
        print(json.dumps({"started": True}), flush=True)
        t0 = time.monotonic()
        i = 0
        while i % 1024 or time.monotonic() - t0 < args.seconds:
            if i % 1024 == 0:
                os.sched_setaffinity(0, {cpus[i // 1024 % len(cpus)]})
            try:
                s.send(frames[i % len(frames)])
                sent += 1
            except OSError as e:  # the link's queue is full: a flood loses frames, as floods do
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
            i += 1
        elapsed = time.monotonic() - t0
    print(
        json.dumps({"sent": sent, "flows": len(frames), "seconds": elapsed, "pps": sent / elapsed}),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
