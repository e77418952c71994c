"""Reading captured frames: the IP layers of a frame (outer first), its flow, whether it
is encapsulated (IP in IP, or in GUE once decode_gue has named the port)."""
import ipaddress

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.packet import NoPayload, Packet, Raw, bind_layers


class GueDirect(Packet):
    """GUE variant 1, direct IP: no header of its own; what follows the UDP header is an IPv4
    or IPv6 packet, told by its first nibble."""

    name = "GUE direct IP"
    fields_desc = []

    def guess_payload_class(self, payload):
        return {4: IP, 6: IPv6}.get(payload[0] >> 4, Raw) if payload else Raw


def decode_gue(port):
    """From now on, UDP to `port` (the lab's gue_port) is read as GUE: its IP packet within."""
    bind_layers(UDP, GueDirect, dport=port)


def ip_layers(pkt):
    """Every IPv4/IPv6 header of the frame, outermost first (an encapsulated frame has two)."""
    out, layer = [], pkt
    while not isinstance(layer, NoPayload):
        if isinstance(layer, (IP, IPv6)):
            out.append(layer)
        layer = layer.payload
    return out


def gue_udp(ip):
    """The UDP header of a GUE packet that `ip` carries, else None."""
    udp = ip.payload
    return udp if isinstance(udp, UDP) and isinstance(udp.payload, GueDirect) else None


def encapsulated(pkt):
    """(outer, inner) when the frame is IP directly in IP or in GUE, else None."""
    ips = ip_layers(pkt)
    if len(ips) < 2:
        return None
    gue = gue_udp(ips[0])
    if ips[0].payload is ips[1] or (gue is not None and gue.payload.payload is ips[1]):
        return ips[0], ips[1]
    return None


def inner_ip(pkt):
    ips = ip_layers(pkt)
    return ips[-1] if ips else None


def l4(ip):
    return ip.payload if isinstance(ip.payload, (TCP, UDP)) else None


def flow(pkt):
    """(src, sport, dst, dport) of the innermost IP packet, addresses as ip_address; None if no TCP/UDP."""
    ip = inner_ip(pkt)
    seg = l4(ip) if ip is not None else None
    if seg is None:
        return None
    return ipaddress.ip_address(ip.src), seg.sport, ipaddress.ip_address(ip.dst), seg.dport


def without_probes(packets, balancer_addrs):
    """The frames that are not the balancer's own health probes or their answers: probes go
    from its address to the VIPs through the reals (encapsulated, as clients' packets) or to
    the reals' own addresses, beside the clients' traffic. A frame is one when its innermost
    flow has a balancer address at either end."""
    return [p for p in packets if not ((f := flow(p)) and balancer_addrs & {f[0], f[2]})]


def tcp_flags(pkt):
    """The innermost TCP header's flags (scapy's FlagValue), or None if it carries no TCP."""
    ip = inner_ip(pkt)
    return ip.payload.flags if ip is not None and isinstance(ip.payload, TCP) else None


def is_syn(pkt):
    return tcp_flags(pkt) == "S"


def is_synack(pkt):
    return tcp_flags(pkt) == "SA"


# tcpdump's filter for TCP segments with RST set, IPv4 and IPv6 (no extension headers).
RST_FILTER = "(ip and tcp[13] & 4 != 0) or (ip6 and ip6[6] == 6 and ip6[53] & 4 != 0)"


def port_keys(pkt):
    """(IP version, port) of both ends of the innermost TCP/UDP segment: a client port names
    its connection on the client's link, whichever way the segment goes."""
    src, sport, _dst, dport = flow(pkt)
    return {(src.version, sport), (src.version, dport)}


def has_rst(pkt):
    flags = tcp_flags(pkt)
    return flags is not None and "R" in flags


def sources(pkt):
    """Every source address any IP header of the frame names."""
    return {ipaddress.ip_address(ip.src) for ip in ip_layers(pkt)}
