"""Check: scale-out (issue 18). Three balancers behind the gateway's ECMP, each announcing the
VIPs by BGP (BIRD), each built from the same configuration and so with the same Maglev rings:
new flows spread over all three; a balancer that dies without a word (BFD tells the gateway,
which withdraws its next hop), one that stops gracefully and one that joins move flows between
balancers and break none, because every balancer sends a flow to the same real (the connection
table's miss path hashes it into the same ring). Resets are counted by the clients (ECONNRESET,
EPIPE, closes, timeouts, answers from another real) and by a capture of every RST on the
client's link."""
import time
from collections import Counter

import pytest

from e2e.capture import capturing
from e2e.ecmp import UdpStream, go_dark, next_hops
from e2e.lab import progress, vip_spec
from e2e.packets import flow, has_rst
from e2e.traffic import Talker, broken
from testlib.command import wait_for

PER_VIP = 150  # long-lived TCP connections to each TCP VIP: 300 in all
UDP_PER_VIP = 25  # UDP flows to each UDP VIP, one request every UDP_INTERVAL
UDP_INTERVAL = 0.05
TALK_INTERVAL = 0.2
# Longer than any failover here (BGP's hold time included): a connection that breaks was reset
# or closed, not merely slow.
TALK_TIMEOUT = 15
SPREAD_FLOWS = 300  # new connections to each TCP VIP
RST_FILTER = "(ip and tcp[13] & 4 != 0) or (ip6 and ip6[6] == 6 and ip6[53] & 4 != 0)"
# Above a lab round trip, below TCP's first retransmission: a request that waited this long
# lost a packet on the way (the connection crossed the change).
STALLED = 0.15


@pytest.fixture(scope="module")
def vips(ecmp_lab):
    return {(v, proto): ecmp_lab.vip(v, proto) for v in (4, 6) for proto in ("tcp", "udp")}


def targets(vips, proto, count=None):
    return [
        vip_spec(v["address"], v["port"]) + ("" if count is None else f"={count}")
        for (_, p), v in sorted(vips.items())
        if p == proto
    ]


def running(lab):
    return [b["node"] for b in lab.refresh()["balancers"] if b["running"]]


def global_stats(lab, nodes):
    """{balancer: its connection-table counters and its tx count}."""
    out = {}
    for b in nodes:
        stats = lab.stats(b)
        out[b] = stats["conn_table"] | {"tx": stats["reasons"]["tx"]}
    return out


def deltas(before, after):
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
        after = time.monotonic()
        last = {}

        def answered():
            last["r"] = self.stream.report()
            return all(f["last_answer"] > after for f in last["r"]["flows"])

        wait_for(answered, "an answer on every UDP flow", timeout=30, interval=0.05)
        return tcp, last["r"]

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


def test_every_balancer_has_the_same_rings(ecmp_lab, vips):
    lab = ecmp_lab
    for (_, proto), v in vips.items():
        rings = {
            b: lab.dogfish(
                "vip",
                "ring",
                vip_spec(v["address"], v["port"]),
                "--proto",
                proto,
                "--json",
                balancer=b,
            ).stdout
            for b in running(lab)
        }
        assert len(rings) == 3, f"not three balancers running: {list(rings)}"
        assert len(set(rings.values())) == 1, f"{v['address']} {proto}: the rings differ"
    progress(f"{len(vips)} VIP services: byte-identical rings on {', '.join(running(lab))}")


def test_new_flows_spread_over_every_balancer(ecmp_lab, vips):
    lab = ecmp_lab
    nodes = running(lab)
    for v in vips.values():
        assert next_hops(lab, v) == set(nodes), f"the gateway routes {v['address']} elsewhere"
    before = global_stats(lab, nodes)
    out = lab.client_script("tcp_flows.py", "--count", SPREAD_FLOWS, *targets(vips, "tcp"))
    for t, r in out.items():
        assert r["failed"] == [], f"new connections to {t} failed: {r['failed'][:5]}"
    placed = {b: d["hash_decisions"] for b, d in deltas(before, global_stats(lab, nodes)).items()}
    flows = SPREAD_FLOWS * len(out)
    # Each balancer's share of a fair L4 hash is a third: 200 of 600, give or take 12.
    assert sum(placed.values()) >= flows, f"fewer flows placed than made: {placed}"
    assert all(n >= flows // 5 for n in placed.values()), f"a balancer got few flows: {placed}"
    progress(f"{flows} new connections placed by each balancer's ring: {placed}")


def test_a_balancer_that_dies_breaks_no_connection(ecmp_lab, vips, tmp_path):
    lab = ecmp_lab
    nodes = running(lab)
    dead, survivors = nodes[0], nodes[1:]
    with Traffic(lab, vips, tmp_path) as traffic:
        before = global_stats(lab, nodes)
        wait_for(
            lambda: deltas(before, global_stats(lab, nodes))[dead]["tx"] > 100,
            f"traffic through {dead}",
            timeout=10,
        )
        before = global_stats(lab, survivors)
        t0 = time.monotonic()
        go_dark(lab, dead)
        killed = traffic.talker.report()
        wait_for(
            lambda: all(dead not in next_hops(lab, v) for v in vips.values()),
            f"the gateway to withdraw {dead}",
            timeout=30,
            interval=0.01,
        )
        withdrawn = time.monotonic() - t0
        for v in vips.values():
            assert next_hops(lab, v) == set(survivors), f"{v['address']}: {next_hops(lab, v)}"
        tcp, udp = traffic.settle(killed)
        taken = {b: d["miss"] for b, d in deltas(before, global_stats(lab, survivors)).items()}
    figures = traffic.check(f"{dead} died", tcp, udp)
    # The dead balancer's flows reached the survivors, which had no entry for them.
    assert figures["tcp_stalled"] > 0, f"no connection crossed {dead}'s death: {figures}"
    assert sum(taken.values()) > 0, f"the survivors took over no flow: {taken}"
    progress(
        f"{dead} went dark: withdrawn by the gateway after {withdrawn:.2f} s; "
        f"{len(tcp['conns'])} TCP connections: 0 reset, 0 moved, {figures['tcp_stalled']} stalled "
        f"(longest wait {figures['tcp_longest_wait']:.2f} s); {len(udp['flows'])} UDP flows: "
        f"{figures['udp_lost']} requests lost, longest silence "
        f"{figures['udp_longest_silence']:.2f} s; table misses on the survivors {taken}"
    )


def test_a_graceful_stop_loses_nothing(ecmp_lab, vips, tmp_path):
    lab = ecmp_lab
    nodes = running(lab)
    stopped, stays = nodes[0], nodes[1:]
    with Traffic(lab, vips, tmp_path) as traffic:
        since = traffic.talker.report()
        t0 = time.monotonic()
        lab.stop_balancer(stopped)  # withdraws, waits stop_delay, then detaches
        took = time.monotonic() - t0
        for v in vips.values():
            assert next_hops(lab, v) == set(stays), f"{v['address']}: {next_hops(lab, v)}"
        tcp, udp = traffic.settle(since)
    figures = traffic.check(f"{stopped} stopped", tcp, udp)
    # At most the request each flow had in flight when the stream stopped goes unanswered.
    assert figures["udp_lost"] <= len(udp["flows"]), f"UDP requests lost: {figures}"
    progress(
        f"{stopped} stopped gracefully in {took:.2f} s: {len(tcp['conns'])} TCP connections, "
        f"0 reset, 0 moved, {figures['tcp_stalled']} stalled; {len(udp['flows'])} UDP flows, "
        f"{figures['udp_lost']} requests unanswered"
    )


def test_a_joining_balancer_takes_flows_and_breaks_none(ecmp_lab, vips, tmp_path):
    lab = ecmp_lab
    joining = next(b["node"] for b in lab.refresh()["balancers"] if b["standby"])
    with Traffic(lab, vips, tmp_path) as traffic:
        since = traffic.talker.report()
        lab.start_balancer(joining)
        nodes = running(lab)
        wait_for(
            lambda: all(joining in next_hops(lab, v) for v in vips.values()),
            f"the gateway to route to {joining}",
            timeout=30,
        )
        tcp, udp = traffic.settle(since)
        joined = lab.stats(joining)
    figures = traffic.check(f"{joining} joined", tcp, udp)
    assert (
        joined["conn_table"]["miss"] > 0 and joined["reasons"]["tx"] > 0
    ), f"{joining} took no flow: {joined['conn_table']}"
    progress(
        f"{joining} joined ({', '.join(nodes)} now): it took over flows it never saw "
        f"({joined['conn_table']['miss']} table misses, {joined['reasons']['tx']} packets); "
        f"{len(tcp['conns'])} TCP connections, 0 reset, 0 moved; {len(udp['flows'])} UDP flows, "
        f"{figures['udp_lost']} requests lost"
    )
