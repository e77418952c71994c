"""Check: scale-out (issue 18). Three balancers behind the gateway's ECMP, each announcing the
VIPs by BGP (BIRD), each built from the same configuration and so with the same Maglev rings:
new flows spread over all three; a balancer that dies without a word (BFD tells the gateway,
which withdraws its next hop), one that stops gracefully and one that joins move flows between
balancers and break none, because every balancer sends a flow to the same real (the connection
table's miss path hashes it into the same ring). Resets are counted by the clients (ECONNRESET,
EPIPE, closes, timeouts, answers from another real) and by a capture of every RST on the
client's link."""
import json
import time

import pytest

from e2e.ecmp import (
    Traffic,
    a_balancer_dies,
    attach_xdp,
    deltas,
    detach_xdp,
    global_stats,
    link_down,
    next_hops,
    running,
    services,
    targets,
    wait_for_next_hops,
    wait_for_traffic_through,
    xdp_on,
)
from e2e.lab import DOGFISH, progress, vip_spec
from testlib.command import wait_for

SPREAD_FLOWS = 300  # new connections to each TCP VIP


@pytest.fixture(scope="module")
def vips(ecmp_lab):
    return services(ecmp_lab)


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


def test_a_balancer_whose_link_goes_down_and_up_breaks_no_connection(ecmp_lab, vips, tmp_path):
    """The last balancer's link to the gateway goes down (a pulled cable) and comes back, its
    daemon and program running throughout: the gateway withdraws it (BIRD's BGP watches the
    link, the daemon its link too), the others take its flows; back up, it announces the VIPs
    again once its health checks have settled, with its peers' rings, and takes flows again.
    No connection breaks."""
    lab = ecmp_lab
    nodes = running(lab)
    cut, others = nodes[-1], nodes[:-1]
    with Traffic(lab, vips, tmp_path) as traffic:
        wait_for_traffic_through(lab, cut)
        before = global_stats(lab, others)
        t0 = time.monotonic()
        with link_down(lab, cut):
            since = traffic.talker.report()
            wait_for_next_hops(lab, vips, others, f"withdraw {cut}")
            withdrawn = time.monotonic() - t0
            tcp, udp = traffic.settle(since)
        taken = {b: d["miss"] for b, d in deltas(before, global_stats(lab, others)).items()}
        back = wait_for_next_hops(lab, vips, nodes, f"route to {cut} again")
        # Its probes failed while the link was down: routed again, it has settled on new ones.
        for (_, proto), v in vips.items():
            theirs, its = by_address(ring(lab, v, others[0])), by_address(ring(lab, v, cut))
            differ = sum(x != y for x, y in zip(theirs, its))
            assert (
                differ == 0
            ), f"{cut} rejoined with {differ} slots of {v['address']} {proto} apart"
        wait_for_traffic_through(lab, cut)
        tcp, udp = traffic.settle(tcp)
    figures = traffic.check(f"{cut}'s link down and up", tcp, udp)
    assert sum(taken.values()) > 0, f"the others took over no flow from {cut}: {taken}"
    progress(
        f"{cut}'s link down: withdrawn by the gateway after {withdrawn:.2f} s, routed again "
        f"{back:.2f} s after it came back; {len(tcp['conns'])} TCP connections: 0 reset, 0 moved, "
        f"{figures['tcp_stalled']} stalled (longest wait {figures['tcp_longest_wait']:.2f} s); "
        f"{len(udp['flows'])} UDP flows: {figures['udp_lost']} requests lost; table misses on "
        f"the others {taken}"
    )


def test_a_program_detached_under_a_live_daemon_is_withdrawn_and_announced_when_back(
    ecmp_lab, vips
):
    """Something else than `dogfish teardown` detaches a balancer's program while its daemon
    and BIRD live on: BFD and BGP see nothing wrong, the daemon sees it (it polls) and withdraws
    the VIPs, which its node no longer forwards; the same program attached again, it announces
    them again."""
    lab = ecmp_lab
    nodes = running(lab)
    node, others = nodes[-1], nodes[:-1]
    program = xdp_on(lab, node)
    assert program is not None, f"{node} runs no XDP program"
    t0 = time.monotonic()
    detach_xdp(lab, node)
    try:
        wait_for_next_hops(lab, vips, others, f"withdraw {node}")
        withdrawn = time.monotonic() - t0
    finally:
        if xdp_on(lab, node) is None:
            attach_xdp(lab, node, program)
    back = wait_for_next_hops(lab, vips, nodes, f"route to {node} again")
    progress(
        f"{node}'s program detached under a live daemon: withdrawn by the gateway "
        f"{withdrawn:.2f} s after the detach began; attached again, routed again after {back:.2f} s"
    )


def test_a_balancer_that_dies_breaks_no_connection(ecmp_lab, vips, tmp_path):
    dead, withdrawn, figures = a_balancer_dies(ecmp_lab, vips, tmp_path)
    progress(f"{dead} went dark: withdrawn by the gateway after {withdrawn:.2f} s (BFD); {figures}")


def test_a_graceful_stop_loses_nothing(ecmp_lab, vips, tmp_path):
    lab = ecmp_lab
    nodes = running(lab)
    stopped, stays = nodes[0], nodes[1:]
    with Traffic(lab, vips, tmp_path) as traffic:
        since = traffic.talker.report()
        t0 = time.monotonic()
        lab.stop_balancer(stopped)  # withdraws and waits stop_delay; its program stays
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


def test_teardown_after_a_crash_takes_the_routes_before_the_program(ecmp_lab, vips, tmp_path):
    """A daemon that dies leaves its program serving and its VIPs announced; `dogfish teardown`
    withdraws them and waits stop_delay before it detaches, so the traffic has moved first."""
    lab = ecmp_lab
    node = running(lab)[-1]
    b = lab.balancer_status(node)
    with Traffic(lab, vips, tmp_path) as traffic:
        wait_for_traffic_through(lab, node)
        lab.stop_balancer(node, kill=True)
        for v in vips.values():
            assert node in next_hops(lab, v), f"{v['address']}: {node}'s route left with its daemon"
        since = traffic.talker.report()
        t0 = time.monotonic()
        teardown = ["teardown", "--config", b["config"], "--pin-dir", b["pin_dir"]]
        out = json.loads(
            lab.exec(node, DOGFISH, "--json", "--socket", b["socket"], *teardown).stdout
        )
        took = time.monotonic() - t0
        assert out["routes_withdrawn"] and out["detached"], out
        for v in vips.values():
            assert node not in next_hops(lab, v), f"{v['address']}: still routed to {node}"
        tcp, udp = traffic.settle(since)
    try:
        figures = traffic.check(f"{node} torn down", tcp, udp)
        # At most the request each flow had in flight; a program gone before its routes would
        # have lost every request to it until BFD or BGP noticed (BIRD is alive: never).
        assert figures["udp_lost"] <= len(udp["flows"]), f"UDP requests lost: {figures}"
    finally:
        lab.start_balancer(node)
        wait_for(
            lambda: all(node in next_hops(lab, v) for v in vips.values()),
            f"the gateway to route to {node} again",
            timeout=30,
        )
    progress(
        f"{node} killed, then torn down in {took:.2f} s (routes withdrawn first): "
        f"{len(tcp['conns'])} TCP connections, 0 reset, 0 moved, {figures['tcp_stalled']} "
        f"stalled; {len(udp['flows'])} UDP flows, {figures['udp_lost']} requests unanswered"
    )


ROLLED = "real4"  # the real a rolling change adds, one balancer after another


def ring(lab, vip, balancer):
    spec = vip_spec(vip["address"], vip["port"])
    out = lab.dogfish("vip", "ring", spec, "--proto", vip["proto"], "--json", balancer=balancer)
    return json.loads(out.stdout)


def by_address(r):
    """A ring as the real each slot names. Balancers with different histories may give a real
    different ids (a freed id waits before reuse), so after changes their rings compare by
    address; built from one configuration, they are byte-identical (the first test)."""
    address = {x["id"]: x["address"] for x in r["reals"]}
    return [address[i] for i in r["slots"]]


def test_a_rolling_change_moves_no_established_connection(ecmp_lab, vips, tmp_path):
    """A real added on one balancer after another. While the rings differ, a flow that changes
    balancer may change real; one that stays keeps its real, its balancer's table holds it.
    Counts the ring slots that differ meanwhile and the connections that moved."""
    lab = ecmp_lab
    nodes = running(lab)
    for b in nodes:
        lab.set_real(vips.values(), ROLLED, "del", balancer=b)
    before = {k: ring(lab, v, nodes[0]) for k, v in vips.items()}
    with Traffic(lab, vips, tmp_path) as traffic:
        tcp = traffic.talker.ready
        on_rolled = [c for c in tcp["conns"] if c["real"] == ROLLED]
        assert on_rolled == [], f"connections on {ROLLED} before it was added: {on_rolled[:3]}"
        differ = {}
        for b in nodes:
            lab.set_real(vips.values(), ROLLED, "add", 1, balancer=b)
            if b != nodes[-1]:  # the window: this balancer's rings differ from the next one's
                differ[b] = {
                    k: sum(
                        x != y for x, y in zip(by_address(before[k]), by_address(ring(lab, v, b)))
                    )
                    for k, v in vips.items()
                }
            tcp, udp = traffic.settle(tcp)
    figures = traffic.check("rolling change", tcp, udp)
    for (_, proto), v in vips.items():
        rings = {tuple(by_address(ring(lab, v, b))) for b in nodes}
        assert len(rings) == 1, f"{v['address']} {proto}: rings differ after the change"
    out = lab.client_script("tcp_flows.py", "--count", 100, *targets(vips, "tcp"))
    assert all(
        ROLLED in {real for _, real in r["flows"]} for r in out.values()
    ), f"no new flow reached {ROLLED}"
    size = before[(4, "tcp")]["size"]
    progress(
        f"{ROLLED} added on {', '.join(nodes)} one after another: ring slots that differed "
        f"meanwhile (of {size}) {differ}; {len(tcp['conns'])} TCP connections, 0 moved, 0 reset; "
        f"{len(udp['flows'])} UDP flows, {figures['udp_lost']} requests lost"
    )
