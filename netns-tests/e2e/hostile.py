"""Crafted packets for check 6: each kind with the reason the balancer must count it under.

Every packet is aimed at a VIP service (address and port) from a source address no real
client uses, so a capture can tell a crafted packet from the real traffic beside it.

Where it enters: a Linux router (the lab's gateway) forwards IP options, fragments,
extension headers, odd TCP flags and IP packets whose L4 header is cut short, so those
are sent by the client and routed to the balancer like any packet. A router drops a cut
short or inconsistent IP header itself and cannot forward more than its link's MTU, so
those are put straight onto the balancer's link from the gateway, as a router that does
not check would hand them on."""
from dataclasses import dataclass

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_EOL, IPOption_NOP, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import Ether
from scapy.packet import Raw

HOSTILE = {4: "10.0.1.66", 6: "fd00:1::66"}  # on the client's link, never a real client's
FROM_CLIENT, ON_BALANCER_LINK = "client", "balancer link"


@dataclass
class Kind:
    name: str
    reason: str  # the `dogfish stats` reason it must count under
    enters: str  # FROM_CLIENT or ON_BALANCER_LINK
    build: object  # build(sport) -> [L3 packet, or raw bytes after Ethernet, ...]
    ethertype: int = 0x0800  # of the raw bytes; a scapy packet says its own


def kinds(vip4, vip6, tcp_port, udp_port):
    def v4(**kw):
        return IP(src=HOSTILE[4], dst=vip4, ttl=64, **kw)

    def v6(**kw):
        return IPv6(src=HOSTILE[6], dst=vip6, hlim=64, **kw)

    def syn(sport, flags="S"):
        return TCP(sport=sport, dport=tcp_port, flags=flags, seq=1000)

    def cut(layer, keep):  # the first `keep` bytes of an L4 header
        return Raw(bytes(layer)[:keep])

    def patched(pkt, offset, value):  # one byte of the built header changed afterwards
        raw = bytearray(bytes(pkt))
        raw[offset] = value
        return bytes(raw)

    def big(version):  # 1590 bytes at L3: fits the 1600-byte link, not once encapsulated
        return Raw(b"B" * (1590 - (20 if version == 4 else 40) - 20))

    def reply(version, sport, dport=tcp_port):  # what a real would send from the VIP
        if version == 4:
            return bytes(IP(src=vip4, dst=HOSTILE[4]) / TCP(sport=dport, dport=sport, flags="A"))
        return bytes(IPv6(src=vip6, dst=HOSTILE[6]) / TCP(sport=dport, dport=sport, flags="A"))

    def frag_needed(quote, **kw):
        return v4() / ICMP(type=3, code=4, nexthopmtu=1280, **kw) / Raw(quote)

    out = [
        # Routed by the gateway.
        Kind(
            "ipv4 options (NOPs)",
            "drop_ip_options",
            FROM_CLIENT,
            lambda s: [
                v4(options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_EOL()])
                / syn(s)
            ],
        ),
        Kind(
            "ipv4 fragments (3 of a SYN)",
            "drop_fragment",
            FROM_CLIENT,
            lambda s: fragment(v4(id=s) / syn(s) / Raw(b"F" * 1000), fragsize=400),
        ),
        Kind(
            "ipv6 fragments (first and later)",
            "drop_fragment",
            FROM_CLIENT,
            lambda s: [
                v6() / IPv6ExtHdrFragment(id=s, m=1, offset=0) / syn(s) / Raw(b"F" * 32),
                v6() / IPv6ExtHdrFragment(id=s, m=0, offset=7, nh=6) / Raw(b"F" * 32),
            ],
        ),
        Kind(
            "ipv6 hop-by-hop header",
            "drop_ipv6_ext",
            FROM_CLIENT,
            lambda s: [v6() / IPv6ExtHdrHopByHop() / syn(s)],
        ),
        Kind(
            "ipv6 routing header",
            "drop_ipv6_ext",
            FROM_CLIENT,
            lambda s: [v6() / IPv6ExtHdrRouting(segleft=0) / syn(s)],
        ),
        Kind(
            "ipv6 destination options",
            "drop_ipv6_ext",
            FROM_CLIENT,
            lambda s: [v6() / IPv6ExtHdrDestOpt() / syn(s)],
        ),
        Kind("tcp no flags", "drop_tcp_flags", FROM_CLIENT, lambda s: [v4() / syn(s, "")]),
        Kind("tcp SYN+FIN", "drop_tcp_flags", FROM_CLIENT, lambda s: [v4() / syn(s, "SF")]),
        Kind("tcp SYN+RST", "drop_tcp_flags", FROM_CLIENT, lambda s: [v4() / syn(s, "SR")]),
        Kind("tcp FIN without ACK", "drop_tcp_flags", FROM_CLIENT, lambda s: [v4() / syn(s, "F")]),
        Kind(
            "tcp xmas (FIN+PSH+URG)",
            "drop_tcp_flags",
            FROM_CLIENT,
            lambda s: [v4() / syn(s, "FPU")],
        ),
        Kind("tcp6 SYN+FIN", "drop_tcp_flags", FROM_CLIENT, lambda s: [v6() / syn(s, "SF")]),
        Kind(
            "tcp header cut to 8 bytes",
            "drop_truncated_l4",
            FROM_CLIENT,
            lambda s: [v4(proto=6) / cut(syn(s), 8)],
        ),
        Kind(
            "udp header cut to 4 bytes",
            "drop_truncated_l4",
            FROM_CLIENT,
            lambda s: [v4(proto=17) / cut(UDP(sport=s, dport=udp_port), 4)],
        ),
        Kind(
            "tcp6 header cut to 10 bytes",
            "drop_truncated_l4",
            FROM_CLIENT,
            lambda s: [v6(nh=6) / cut(syn(s), 10)],
        ),
        Kind(
            "udp6 header cut to 4 bytes",
            "drop_truncated_l4",
            FROM_CLIENT,
            lambda s: [v6(nh=17) / cut(UDP(sport=s, dport=udp_port), 4)],
        ),
        # Straight onto the balancer's link.
        Kind("frame ends after ethernet", "pass_truncated", ON_BALANCER_LINK, lambda s: [b""]),
        Kind(
            "ipv4 header cut to 12 bytes",
            "pass_truncated",
            ON_BALANCER_LINK,
            lambda s: [bytes(v4() / syn(s))[:12]],
        ),
        Kind(
            "ipv6 header cut to 30 bytes",
            "pass_truncated",
            ON_BALANCER_LINK,
            lambda s: [bytes(v6() / syn(s))[:30]],
            0x86DD,
        ),
        Kind(
            "ipv4 IHL 3",
            "drop_bad_l3",
            ON_BALANCER_LINK,
            lambda s: [patched(v4() / syn(s), 0, 0x43)],
        ),
        Kind(
            "ipv4 IHL 0",
            "drop_bad_l3",
            ON_BALANCER_LINK,
            lambda s: [patched(v4() / syn(s), 0, 0x40)],
        ),
        Kind(
            "ipv4 version 5",
            "drop_bad_l3",
            ON_BALANCER_LINK,
            lambda s: [patched(v4() / syn(s), 0, 0x55)],
        ),
        Kind(
            "ipv4 total length beyond the frame",
            "drop_bad_l3",
            ON_BALANCER_LINK,
            lambda s: [v4(len=600) / syn(s)],
        ),
        Kind(
            "ipv4 total length below its headers",
            "drop_bad_l3",
            ON_BALANCER_LINK,
            lambda s: [v4(len=30) / syn(s)],
        ),
        Kind(
            "ipv6 payload length beyond the frame",
            "drop_bad_l3",
            ON_BALANCER_LINK,
            lambda s: [v6(plen=500) / syn(s)],
        ),
        # Too big once encapsulated: answered, but for IPv4 without DF (not to be fragmented).
        Kind(
            "ipv4 1590 bytes without DF (1610 encapsulated)",
            "drop_too_big",
            ON_BALANCER_LINK,
            lambda s: [v4() / syn(s, "A") / big(4)],
        ),
        Kind(
            "ipv4 1590 bytes with DF (1610 encapsulated)",
            "tx_icmp_too_big",
            ON_BALANCER_LINK,
            lambda s: [v4(flags="DF") / syn(s, "A") / big(4)],
        ),
        Kind(
            "ipv6 1590 bytes (1630 encapsulated)",
            "tx_icmp_too_big",
            ON_BALANCER_LINK,
            lambda s: [v6() / syn(s, "A") / big(6)],
        ),
        # ICMP to the VIPs that must reach no real: routed by the gateway like any packet.
        Kind(
            "icmp error quoting 4 bytes of tcp",
            "drop_icmp_quote",
            FROM_CLIENT,
            lambda s: [frag_needed(reply(4, s)[:24])],
        ),
        Kind(
            "icmpv6 packet too big quoting 4 bytes of tcp",
            "drop_icmp_quote",
            FROM_CLIENT,
            lambda s: [v6() / ICMPv6PacketTooBig(mtu=1280) / Raw(reply(6, s)[:44])],
        ),
        Kind(
            "icmp error with a bad checksum",
            "drop_icmp_checksum",
            FROM_CLIENT,
            lambda s: [frag_needed(reply(4, s), chksum=0x1234)],
        ),
        Kind(
            "icmpv6 echo request with a bad checksum",
            "drop_icmp_checksum",
            FROM_CLIENT,
            lambda s: [v6() / ICMPv6EchoRequest(id=s, cksum=0x1234) / Raw(b"E" * 16)],
        ),
        Kind(
            "icmp error about no VIP's flow (port 8080)",
            "pass_icmp_no_flow",
            FROM_CLIENT,
            lambda s: [frag_needed(reply(4, s, dport=8080))],
        ),
    ]
    return out


def frames(kind, copies, first_port, src_mac, dst_mac):
    """`copies` of the kind (each its own source port, so its own flow) as Ethernet frames."""
    out = []
    for i in range(copies):
        for l3 in kind.build(first_port + i):
            if isinstance(l3, bytes):
                out.append(Ether(src=src_mac, dst=dst_mac, type=kind.ethertype) / Raw(l3))
            else:
                out.append(Ether(src=src_mac, dst=dst_mac) / l3)
    return out
