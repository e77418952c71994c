"""Check 4: no broken connections on change. Long-lived TCP connections (keep-alive HTTP,
opened, talking every 100 ms, kept open) to both VIPs of multi-real.yaml survive, each on
the real it started on: adding a real, draining another (weight 0), changing weights, and
SIGKILLing and restarting the balancer daemon (which adopts the pinned maps and applies the
topology's configuration again), stopping it (SIGTERM: the data plane goes on serving) and
starting another, and upgrading the program (a rebuilt object over the same pinned maps, swapped
in atomically). Zero resets: counted by the clients (ECONNRESET/EPIPE,
timeouts, closes) and by a capture of every RST on the client's link. A UDP stream to both UDP
VIPs crosses the same changes: no flow changes real and, once the answers in flight have come,
no request is lost. Then deleting a real
breaks that real's connections (the next real answers them with a RST) and only those."""
import ipaddress
import json
import time
from collections import Counter

import pytest

from e2e.capture import capturing
from e2e.lab import BALANCER_REBUILT, progress, vip_spec
from e2e.packets import RST_FILTER, flow, has_rst, inner_ip, port_keys
from e2e.traffic import Talker, UdpStream, broken, conn_key, shares
from testlib.command import run, wait_for

PER_VIP = 64  # long-lived connections to each VIP
UDP_PER_VIP = 16  # UDP flows to each UDP VIP, a request every 50 ms each
PROBES = 300  # new connections to each VIP after a change
ADDED, DRAINED, DELETED = "real8", "real1", "real7"
REWEIGHT = {"real3": 4, "real5": 1}


@pytest.fixture(scope="module")
def vips(multi_lab):
    return [multi_lab.vip(v, "tcp") for v in (4, 6)]


def targets(vips):
    return [vip_spec(v["address"], v["port"]) for v in vips]


def probe(lab, vips):
    """Where PROBES new connections to each VIP go: {target: Counter(real)}."""
    out = lab.client_script("tcp_flows.py", "--count", PROBES, *targets(vips))
    for t, r in out.items():
        assert r["failed"] == [], f"new connections to {t} failed: {r['failed'][:5]}"
    return {t: shares(r["flows"]) for t, r in out.items()}


def restart(lab):
    old = lab.status["balancer"]["pid"]
    out = lab.restart_balancer()
    assert f"pid {old} killed" in out and lab.status["balancer"]["running"], out
    assert lab.status["balancer"]["pid"] != old


def xdp_prog(lab):
    """The id and tag of the program on the balancer's interface."""
    b = lab.status["balancer"]
    out = run(["ip", "-n", b["netns"], "-j", "-d", "link", "show", b["interface"]]).stdout
    prog = json.loads(out)[0]["xdp"]["prog"]
    return prog["id"], prog["tag"]


def stop_and_start(lab, *daemon_args):
    """SIGTERM to the daemon, traffic served with none running, then a new one adopts."""
    old, prog = lab.status["balancer"]["pid"], xdp_prog(lab)
    out = lab.stop_balancer()
    assert f"stopped (SIGTERM): pid {old} is gone" in out, out
    assert xdp_prog(lab) == prog, "SIGTERM took the program off"
    out = lab.start_balancer(daemon_args=daemon_args)
    assert "adopted the attached program" in out and lab.status["balancer"]["running"], out
    return prog, xdp_prog(lab)


def restart_on_sigterm(lab):
    before, after = stop_and_start(lab)
    assert after[1] == before[1], "the same object, the same program"


def upgrade(lab):
    before, after = stop_and_start(lab, "--bpf-object", BALANCER_REBUILT)
    assert after[0] != before[0] and after[1] != before[1], f"not replaced: {before} -> {after}"
    progress(f"upgraded: program {before[0]} (tag {before[1]}) -> {after[0]} (tag {after[1]})")


def rsts(capture):
    return [p for p in capture.packets if has_rst(p)]


def test_long_lived_connections_survive_changes_and_a_delete_breaks_only_its_own(
    multi_lab, vips, tmp_path
):
    lab = multi_lab
    # The real to add must not be in the VIPs yet: take it out before any connection exists.
    lab.set_real(vips, ADDED, "del")
    assert all(ADDED not in c for c in probe(lab, vips).values())

    talker = Talker(lab, [f"{t}={PER_VIP}" for t in targets(vips)], interval=0.1, watch=lab.watch)
    stream = None
    try:
        udp_vips = [lab.vip(v, "udp") for v in (4, 6)]
        stream = UdpStream(
            lab, [f"{t}={UDP_PER_VIP}" for t in targets(udp_vips)], duration=600, watch=lab.watch
        )
        report = talker.ready
        start = {(c["target"], c["port"]): c["real"] for c in report["conns"]}
        per_real = Counter(start.values())
        assert (
            DRAINED in per_real and DELETED in per_real and set(REWEIGHT) <= set(per_real)
        ), f"the connections missed a real the test changes: {per_real}"
        progress(f"{len(start)} long-lived connections, per real {dict(sorted(per_real.items()))}")

        def changes():
            yield f"add {ADDED}", lambda: lab.set_real(vips, ADDED, "add", 4)
            yield f"drain {DRAINED}", lambda: lab.set_real(vips, DRAINED, "edit", 0)
            yield "reweight " + ", ".join(f"{r}={w}" for r, w in REWEIGHT.items()), lambda: [
                lab.set_real(vips, r, "edit", w) for r, w in REWEIGHT.items()
            ]
            yield "restart the balancer (SIGKILL, adopt)", lambda: restart(lab)
            yield "stop the balancer (SIGTERM) and start another", lambda: restart_on_sigterm(lab)
            yield "upgrade the program (a rebuilt object, same maps)", lambda: upgrade(lab)

        with capturing(
            lab, [(lab.client, lab.gateway, RST_FILTER)], tmp_path / "changes", watch=lab.watch
        ) as caps:
            for what, change in changes():
                before = report
                change()
                stream.answered_since(time.monotonic())
                report = talker.wait_exchanges(3, before)
                assert (
                    broken(report) == Counter()
                ), f"after '{what}': connections broke: {broken(report)}"
                moved = [c for c in report["conns"] if c["moved"]]
                assert moved == [], f"after '{what}': connections changed real: {moved[:5]}"
                talked = sum(c["exchanges"] for c in report["conns"]) - sum(
                    c["exchanges"] for c in before["conns"]
                )
                new = probe(lab, vips)
                progress(
                    f"{what}: 0 resets, 0 moved, {talked} exchanges since; new flows "
                    + "; ".join(f"{t} {dict(sorted(c.items()))}" for t, c in new.items())
                )
                if what.startswith("add"):
                    assert all(
                        c[ADDED] > 0 for c in new.values()
                    ), f"no new flow reached {ADDED}: {new}"
                if what.startswith("drain"):
                    assert all(
                        DRAINED not in c for c in new.values()
                    ), f"new flows reached {DRAINED}: {new}"
        # The UDP stream crossed every change (an answer on each flow after each): none moved,
        # none lost once the answers in flight came.
        udp = stream.stop()
        several = [f for f in udp["flows"] if len(f["reals"]) != 1 or f["wrong_source"]]
        assert (
            several == []
        ), f"UDP flows answered by several reals or not by the VIP: {several[:3]}"
        sent = sum(f["sent"] for f in udp["flows"])
        lost = sent - sum(f["answered"] for f in udp["flows"])
        silence = max(f["longest_silence"] for f in udp["flows"])
        progress(
            f"UDP: {len(udp['flows'])} flows, {sent} requests, {lost} lost, longest silence {silence} s"
        )
        assert lost == 0, f"{lost} UDP requests of {sent} lost across the changes"
        # The long-lived connections' own RSTs, either way. A short probe connection may draw
        # one after it closed (a late segment on a slow, emulated machine); each probe is
        # checked for failure by probe() itself.
        # A connection is named by its family and client port: a probe to the IPv6 VIP may take
        # the port of a long-lived connection to the IPv4 VIP (the CI's VM run met one).
        talking = {conn_key(c) for c in report["conns"]}
        theirs = [p for p in rsts(caps[(lab.client, lab.gateway)]) if port_keys(p) & talking]
        assert (
            theirs == []
        ), f"RSTs of the long-lived connections on the client's link during the changes: {theirs[:3]}"

        # Delete one real: its connections break, the others' do not.
        before = report
        with capturing(
            lab, [(lab.client, lab.gateway, RST_FILTER)], tmp_path / "delete", watch=lab.watch
        ) as caps:
            lab.set_real(vips, DELETED, "del")
            ours = {k for k, real in start.items() if real == DELETED}

            def ours_broke():
                r = talker.report()
                return {
                    (c["target"], c["port"]) for c in r["conns"] if c["state"] != "open"
                } >= ours

            wait_for(
                ours_broke,
                f"the {len(ours)} connections on {DELETED} to break",
                timeout=10,
                interval=0.05,
            )
            report = talker.wait_exchanges(3, before)  # and the others talked on after the delete
        states = Counter(
            (start[(c["target"], c["port"])] == DELETED, c["state"]) for c in report["conns"]
        )
        others_broken = {s: n for (mine, s), n in states.items() if not mine and s != "open"}
        assert others_broken == {}, f"connections on other reals broke: {others_broken}"
        assert [c for c in report["conns"] if c["moved"]] == []
        mine = {s: n for (m, s), n in states.items() if m}
        assert mine == {"reset": len(ours)}, f"the deleted real's connections ended as {mine}"
        # Each of the deleted real's connections got a RST from the VIP, and no other long-lived
        # connection did. A port that names no long-lived connection is one of the last probe's
        # closed connections (CI's VM run met 18 on IPv6 ports, under emulation): not ours to judge,
        # as in the changes' capture above. The client itself may answer a segment that arrives
        # after its socket was reset (a reply of the deleted real still in flight, slow under
        # emulation): such a RST must not name a connection that is still open.
        vip_addrs = {ipaddress.ip_address(v["address"]) for v in vips}
        from_vip, from_client = set(), set()
        for p in rsts(caps[(lab.client, lab.gateway)]):
            src, sport, _dst, dport = flow(p)
            if src in vip_addrs:
                from_vip.add((inner_ip(p).version, dport))
            else:
                from_client.add((inner_ip(p).version, sport))
        deleted = {conn_key(c) for c in report["conns"] if (c["target"], c["port"]) in ours}
        missing = deleted - from_vip
        assert missing == set(), f"no RST from the VIP for the deleted real's connections {missing}"
        others = (from_vip - deleted) & talking
        assert (
            others == set()
        ), f"RSTs from the VIP for long-lived connections of other reals: {others}"
        strays = from_vip - deleted - talking
        if strays:
            progress(
                f"{len(strays)} RSTs from the VIP to closed probe connections: {sorted(strays)[:5]}"
            )
        still_open = {conn_key(c) for c in report["conns"] if c["state"] == "open"}
        assert (
            from_client & still_open == set()
        ), f"the client reset open connections: {from_client & still_open}"
        new = probe(lab, vips)
        assert all(
            DELETED not in c for c in new.values()
        ), f"new flows still reach {DELETED}: {new}"
        progress(
            f"delete {DELETED}: its {len(ours)} connections reset ({len(deleted & from_vip)} ports got a RST), "
            f"{len(from_client)} RSTs from the client after its sockets were reset; "
            f"the other {len(start) - len(ours)} open, 0 moved"
        )
    finally:
        talker.kill()
        if stream:
            stream.kill()
