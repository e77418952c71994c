"""Check 2: the encapsulation format, read with scapy on the reals' links (the gateway's
end: the real's own end sees the frame only after its XDP decap). Every frame the
balancer sends to a real: the outer protocol is IPIP (IPv4 VIP) or IPv6-in-IPv6 (IPv6
VIP); the outer destination is the real that answered the flow; the outer source lies in
the topology's source prefix and is the same for every packet of a flow (IPv6: the flow
label too) while flows get different ones; TOS and TTL are carried over; and the inner
packet is byte for byte the one the balancer received, and the one the client sent but for
the gateway's TTL decrement and the TCP checksum the client's veth left to offload."""
import ipaddress
from collections import defaultdict

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6

from e2e.capture import capturing
from e2e.lab import progress, vip_spec
from e2e.packets import encapsulated, flow, inner_ip, l4, without_probes

TCP_FLOWS, REQUESTS, PAD, TOS = 40, 3, 1350, 0x48
UDP_FLOWS, DATAGRAMS = 20, 2


def key(ip):
    """A packet of a flow, told apart from the flow's other packets."""
    seg = l4(ip)
    f = (ip.src, seg.sport, ip.dst, seg.dport)
    if isinstance(seg, TCP):
        return f + (seg.seq, seg.ack, int(seg.flags), len(seg.payload))
    return f + (bytes(seg.payload),)


def ttl(ip):
    return ip.ttl if isinstance(ip, IP) else ip.hlim


def tos(ip):
    return ip.tos if isinstance(ip, IP) else ip.tc


def without_ttl_and_checksums(ip):
    """The packet's bytes with TTL and the IP and L4 checksums zeroed."""
    c = ip.__class__(bytes(ip))
    if isinstance(c, IP):
        c.ttl, c.chksum = 0, 0
    else:
        c.hlim = 0
    l4(c).chksum = 0
    return bytes(c)


def l4_checksum_ok(ip):
    c = ip.__class__(bytes(ip))
    sent = l4(c).chksum
    del l4(c).chksum
    return l4(c.__class__(bytes(c))).chksum == sent


@pytest.mark.parametrize("version", [4, 6])
def test_encapsulated_frames_on_the_reals_links(basic_lab, tmp_path, version):
    lab = basic_lab
    tcp_vip, udp_vip = lab.vip(version, "tcp"), lab.vip(version, "udp")
    tcp_target = vip_spec(tcp_vip["address"], tcp_vip["port"])
    udp_target = vip_spec(udp_vip["address"], udp_vip["port"])
    client_addr = lab.address(lab.client, version)
    prefix = lab.source_prefixes()[version]
    gw = lab.gateway
    points = [(lab.client, gw), (gw, lab.balancer)] + [(gw, r) for r in lab.reals]

    with capturing(lab, points, tmp_path / "encap", watch=lab.watch, snaplen=2048) as caps:
        tcp = lab.client_script(
            "tcp_flows.py",
            "--count",
            TCP_FLOWS,
            "--requests",
            REQUESTS,
            "--pad",
            PAD,
            "--tos",
            hex(TOS),
            tcp_target,
        )[tcp_target]
        udp = lab.client_script(
            "udp_flows.py", "--count", UDP_FLOWS, "--datagrams", DATAGRAMS, udp_target
        )[udp_target]
    assert tcp["failed"] == [] and udp["lost"] == 0
    answered = {("tcp", port): real for port, real in tcp["flows"]}
    answered.update({("udp", port): reals[0] for port, reals in udp["flows"]})

    def index(packets, pick):
        out = defaultdict(list)
        for p in packets:
            ip = inner_ip(p)
            if ip is not None and l4(ip) is not None and not encapsulated(p) and pick(ip):
                out[key(ip)].append(ip)
        return out

    sent = index(caps[(lab.client, gw)].packets, lambda ip: ip.src == client_addr)
    received = index(caps[(gw, lab.balancer)].packets, lambda ip: ip.src == client_addr)

    outer_sources, labels = defaultdict(set), defaultdict(set)
    frames = full_size = 0
    for real in lab.reals:
        real_addr = ipaddress.ip_address(lab.address(real, version))
        for p in without_probes(caps[(gw, real)].packets, lab.balancer_addresses()):
            pair = encapsulated(p)
            if pair is None:
                continue
            outer, inner = pair
            frames += 1
            full_size += len(inner) >= 1400
            if version == 4:
                assert (
                    isinstance(outer, IP) and outer.proto == 4 and isinstance(inner, IP)
                ), p.summary()
            else:
                assert (
                    isinstance(outer, IPv6) and outer.nh == 41 and isinstance(inner, IPv6)
                ), p.summary()
            assert (
                ipaddress.ip_address(outer.dst) == real_addr
            ), f"outer destination {outer.dst} on {real}'s link"
            src, sport, _dst, _dport = flow(p)
            proto = "tcp" if isinstance(l4(inner), TCP) else "udp"
            assert (
                answered[(proto, sport)] == real
            ), f"{proto} flow {sport} answered by another real than {real}"
            assert (
                ipaddress.ip_address(outer.src) in prefix
            ), f"outer source {outer.src} not in {prefix}"
            outer_sources[(proto, sport)].add(outer.src)
            if version == 6:
                labels[(proto, sport)].add(outer.fl)
            # The gateway decremented the outer TTL on its way here; the balancer copied the inner's.
            assert ttl(outer) == ttl(inner) - 1, f"outer TTL {ttl(outer)}, inner {ttl(inner)}"
            assert tos(outer) == tos(inner), f"outer TOS {tos(outer):#x}, inner {tos(inner):#x}"
            if proto == "tcp":
                assert tos(inner) == TOS
            # Byte for byte what the balancer received...
            k = key(inner)
            assert any(
                bytes(inner) == bytes(r) for r in received[k]
            ), f"inner packet {k} changed at the balancer"
            # ...and what the client sent, but for the gateway's hop and the offloaded checksum.
            assert any(
                without_ttl_and_checksums(inner) == without_ttl_and_checksums(s) for s in sent[k]
            ), f"inner packet {k} is not the one the client sent"
            assert all(ttl(inner) == ttl(s) - 1 for s in sent[k])
            assert l4_checksum_ok(inner), f"inner {proto} checksum wrong on {k}"

    flows = len(answered)
    assert set(outer_sources) == set(
        answered
    ), "some flows' frames were never seen on a real's link"
    assert all(len(s) == 1 for s in outer_sources.values()), "an outer source changed within a flow"
    assert all(len(s) == 1 for s in labels.values()), "an IPv6 flow label changed within a flow"
    distinct = len({next(iter(s)) for s in outer_sources.values()})
    assert distinct >= 0.9 * flows, f"{flows} flows shared {distinct} outer sources"
    assert (
        full_size >= TCP_FLOWS * REQUESTS
    ), "the full-size requests did not all cross encapsulated"
    progress(
        f"IPv{version}: {frames} encapsulated frames ({full_size} of 1400+ bytes) of {flows} flows; "
        f"{distinct} distinct outer sources in {prefix}; every inner packet as sent"
    )
