"""Several balancers behind the gateway's ECMP: which balancers the gateway routes a VIP to,
a balancer that dies without a word, and the clients that keep traffic going meanwhile."""
import ipaddress
import json
import os
import signal
import time
from collections import Counter
from contextlib import contextmanager

from e2e.capture import capturing
from e2e.lab import vip_spec
from e2e.packets import flow, has_rst
from e2e.traffic import Talker, UdpStream, broken
from testlib.command import wait_for

# Every packet into, through and out of the node's stack dropped, before any other rule.
DARK = (
    "add table inet dogfish_dark ; "
    "add chain inet dogfish_dark incoming { type filter hook input priority -400 ; policy drop ; } ; "
    "add chain inet dogfish_dark forwarded { type filter hook forward priority -400 ; policy drop ; } ; "
    "add chain inet dogfish_dark outgoing { type filter hook output priority -400 ; policy drop ; }"
)


def next_hops(lab, vip):
    """The balancers the gateway's kernel routes the VIP's address to (its ECMP next hops)."""
    by_iface = {b["gateway_interface"]: b["node"] for b in lab.status["balancers"]}
    version = ipaddress.ip_address(vip["address"]).version
    out = lab.exec(lab.gateway, "ip", "-j", f"-{version}", "route", "show", vip["address"]).stdout
    hops = set()
    for route in json.loads(out or "[]"):
        for hop in route.get("nexthops", [route]):
            if "dev" in hop:
                hops.add(by_iface.get(hop["dev"], hop["dev"]))
    return hops


def go_dark(lab, node):
    """The balancer dies as a machine that loses power: its stack drops every packet
    (nftables; its BGP and BFD fall silent, BIRD itself keeps running), its daemon is
    SIGKILLed (no withdrawal) and its XDP program detached (XDP runs before nftables and
    would go on forwarding). Only the gateway's BFD, or its BGP hold timer, can tell."""
    b = lab.balancer_status(node)
    lab.exec(node, "nft", DARK)
    os.kill(b["pid"], signal.SIGKILL)
    detach_xdp(lab, node)


# `ip -j link`'s XDP attach modes, as `ip link set ... MODE` and bpftool name them.
XDP_MODES = {1: "xdp", 2: "xdpgeneric"}


def xdp_on(lab, node):
    """The balancer interface's XDP program: (its id, its mode as ip link names it), or None."""
    interface = lab.balancer_status(node)["interface"]
    link = json.loads(lab.exec(node, "ip", "-j", "link", "show", "dev", interface).stdout)[0]
    if "xdp" not in link:
        return None
    return link["xdp"]["prog"]["id"], XDP_MODES[link["xdp"]["mode"]]


def detach_xdp(lab, node):
    """Detaches whatever XDP program the balancer's interface runs, as an operator would."""
    interface = lab.balancer_status(node)["interface"]
    for mode in XDP_MODES.values():  # `xdp off` leaves a generic-mode program
        lab.exec(node, "ip", "link", "set", "dev", interface, mode, "off")
    assert xdp_on(lab, node) is None, f"{node}: an XDP program is still attached"


def attach_xdp(lab, node, program):
    """Attaches a loaded program, (id, mode) as xdp_on() gave it, to the balancer's interface."""
    prog_id, mode = program
    interface = lab.balancer_status(node)["interface"]
    lab.exec(node, "bpftool", "net", "attach", mode, "id", str(prog_id), "dev", interface)


@contextmanager
def link_down(lab, node):
    """The balancer's link to the gateway down at the balancer's end: the gateway's end loses
    its carrier, as with a pulled cable. Up again on leaving, also when the test fails, with what
    an administrative down takes from the balancer and a pulled cable would not: its IPv6
    addresses kept (keep_addr_on_down), its routes through the link added again."""
    interface = lab.balancer_status(node)["interface"]
    lab.exec(node, "sysctl", "-qw", f"net.ipv6.conf.{interface}.keep_addr_on_down=1")
    routes = {
        v: json.loads(lab.exec(node, "ip", "-j", f"-{v}", "route", "show", "dev", interface).stdout)
        for v in (4, 6)
    }
    lab.exec(node, "ip", "link", "set", "dev", interface, "down")
    try:
        yield
    finally:
        lab.exec(node, "ip", "link", "set", "dev", interface, "up")
        for v, rs in routes.items():
            for r in rs:
                if "gateway" in r:
                    via = ("via", r["gateway"], "dev", interface)
                    lab.exec(node, "ip", f"-{v}", "route", "replace", r["dst"], *via)


def wait_for_next_hops(lab, vips, nodes, what):
    """Waits until the gateway routes every VIP to exactly `nodes`; the seconds it took."""
    t0 = time.monotonic()
    wait_for(
        lambda: all(next_hops(lab, v) == set(nodes) for v in vips.values()),
        f"the gateway to {what} (every VIP routed to {', '.join(nodes)})",
        timeout=30,
        interval=0.01,
    )
    return time.monotonic() - t0


def wait_for_traffic_through(lab, node, at_least=100):
    """Waits until the balancer has sent `at_least` more packets."""
    before = global_stats(lab, [node])
    wait_for(
        lambda: deltas(before, global_stats(lab, [node]))[node]["tx"] > at_least,
        f"traffic through {node}",
        timeout=10,
    )


# The traffic every change runs under.
PER_VIP = 150  # long-lived TCP connections to each TCP VIP: 300 in all
UDP_PER_VIP = 25  # UDP flows to each UDP VIP, one request every UDP_INTERVAL
UDP_INTERVAL = 0.05
TALK_INTERVAL = 0.2
# Longer than any failover here (BGP's hold time included): a connection that breaks was reset
# or closed, not merely slow.
TALK_TIMEOUT = 15
RST_FILTER = "(ip and tcp[13] & 4 != 0) or (ip6 and ip6[6] == 6 and ip6[53] & 4 != 0)"
# Above a lab round trip, below TCP's first retransmission: a request that waited this long
# lost a packet on the way (the connection crossed the change).
STALLED = 0.15


def services(lab):
    """{(IP version, proto): the lab's first VIP service of that kind}."""
    return {(v, proto): lab.vip(v, proto) for v in (4, 6) for proto in ("tcp", "udp")}


def targets(vips, proto, count=None):
    """The services' ADDR:PORT of one protocol, with =COUNT for the clients that take it."""
    return [
        vip_spec(v["address"], v["port"]) + ("" if count is None else f"={count}")
        for (_, p), v in sorted(vips.items())
        if p == proto
    ]


def running(lab):
    """The balancers whose daemon runs, as the lab says now."""
    return [b["node"] for b in lab.refresh()["balancers"] if b["running"]]


def global_stats(lab, nodes):
    """{balancer: its connection-table counters and its tx count}."""
    out = {}
    for b in nodes:
        stats = lab.stats(b)
        out[b] = stats["conn_table"] | {"tx": stats["reasons"]["tx"]}
    return out


def deltas(before, after):
    """How much each balancer's counters of global_stats() grew."""
    return {b: {k: after[b][k] - before[b][k] for k in after[b]} for b in after}


class Traffic:
    """300 long-lived TCP connections and a UDP stream, running across a change; checked for
    resets by the clients and, for TCP, by a capture on the client's link."""

    def __init__(self, lab, vips, directory):
        self.lab, self.vips, self.directory = lab, vips, directory

    def __enter__(self):
        lab = self.lab
        self.talker = Talker(
            lab,
            targets(self.vips, "tcp", PER_VIP),
            interval=TALK_INTERVAL,
            timeout=TALK_TIMEOUT,
            watch=lab.watch,
        )
        try:
            self.stream = UdpStream(
                lab, targets(self.vips, "udp", UDP_PER_VIP), interval=UDP_INTERVAL, watch=lab.watch
            )
        except BaseException:
            self.talker.kill()
            raise
        self.captures = capturing(
            lab, [(lab.client, lab.gateway, RST_FILTER)], self.directory, watch=lab.watch
        )
        self.caps = self.captures.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            self.captures.__exit__(*exc)
        finally:
            self.talker.kill()
            self.stream.kill()

    def settle(self, since):
        """Waits until every TCP connection has talked 3 times more than in `since` (a talker
        report), then for an answer on every UDP flow; returns both clients' reports."""
        tcp = self.talker.wait_exchanges(3, since, timeout=60)
        return tcp, self.stream.answered_since(time.monotonic())

    def check(self, what, tcp, udp):
        """After the traffic ended: no TCP connection broke or changed real, no RST for one on
        the client's link, every UDP flow answered by one real from the VIP. Returns the
        figures to report."""
        assert broken(tcp) == Counter(), f"{what}: TCP connections broke: {broken(tcp)}"
        moved = [c for c in tcp["conns"] if c["moved"]]
        assert moved == [], f"{what}: TCP connections changed real: {moved[:5]}"
        several = [f for f in udp["flows"] if len(f["reals"]) != 1 or f["wrong_source"]]
        assert several == [], f"{what}: UDP flows answered by several reals or not by the VIP"
        caps = self.caps
        talking = {c["port"] for c in tcp["conns"]}
        rsts = [
            p
            for p in caps[(self.lab.client, self.lab.gateway)].packets
            if has_rst(p) and {flow(p)[1], flow(p)[3]} & talking
        ]
        assert rsts == [], f"{what}: RSTs of the long-lived connections: {rsts[:3]}"
        waits = sorted(c["longest_wait"] for c in tcp["conns"])
        silences = sorted(f["longest_silence"] for f in udp["flows"])
        return {
            "tcp_stalled": sum(w >= STALLED for w in waits),
            "tcp_longest_wait": waits[-1],
            "udp_lost": sum(f["sent"] - f["answered"] for f in udp["flows"]),
            "udp_longest_silence": silences[-1],
        }


def a_balancer_dies(lab, vips, directory):
    """The first running balancer goes dark under 300 long-lived TCP connections and a UDP
    stream; none breaks. Returns (the dead balancer, seconds until the gateway withdrew it,
    the figures as a line)."""
    nodes = running(lab)
    dead, survivors = nodes[0], nodes[1:]
    with Traffic(lab, vips, directory) as traffic:
        wait_for_traffic_through(lab, dead)
        before = global_stats(lab, survivors)
        t0 = time.monotonic()
        go_dark(lab, dead)
        killed = traffic.talker.report()
        wait_for_next_hops(lab, vips, survivors, f"withdraw {dead}")
        withdrawn = time.monotonic() - t0
        tcp, udp = traffic.settle(killed)
        taken = {b: d["miss"] for b, d in deltas(before, global_stats(lab, survivors)).items()}
    figures = traffic.check(f"{dead} died", tcp, udp)
    # The dead balancer's flows reached the survivors, which had no entry for them.
    assert figures["tcp_stalled"] > 0, f"no connection crossed {dead}'s death: {figures}"
    assert sum(taken.values()) > 0, f"the survivors took over no flow: {taken}"
    line = (
        f"{len(tcp['conns'])} TCP connections: 0 reset, 0 moved, {figures['tcp_stalled']} stalled "
        f"(longest wait {figures['tcp_longest_wait']:.2f} s); {len(udp['flows'])} UDP flows: "
        f"{figures['udp_lost']} requests lost, longest silence "
        f"{figures['udp_longest_silence']:.2f} s; table misses on the survivors {taken}"
    )
    return dead, withdrawn, line
