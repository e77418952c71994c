"""Check 8: the connection table under a SYN flood. In the flood lab (topologies/flood.yaml:
a table of 4096 entries), 100 connections are established and kept open, idle through what
follows; then random-source SYNs, ten times the table's size and more, are put onto the
balancer's link as fast as one sender goes, on every CPU, and legitimate clients connect
while they last. The flood writes nothing to the table (a SYN is never remembered), so it
evicts none of the established flows; at least 99 % of the legitimate connects complete, and
those kept open are remembered like any other flow. Right after the flood, before any of them
talks again, a real is added and another reweighted: not one connection, established before
or during the flood, is reset or moved when it next talks.

An ACK flood from random sources (each packet a flow the table does not know) is bounded by
the flood guard: at most conn_table_insert_rate entries a second per CPU (200 in the flood
lab), and the same ring change after it moves nothing either.

Idle matters: a table that remembers every SYN (an LRU) keeps a flow that talks during the
flood, re-learning its real from the unchanged ring; an idle one it forgets, and the ring
change then moves it. Against the data plane before issue 13 this check fails so (18 of 51
idle flows evicted by a 3-second flood in one trial)."""
import json
import os
import subprocess

from e2e.lab import CLIENTS, progress, vip_spec
from testlib.paths import PYTHON
from e2e.traffic import Talker, broken

ESTABLISHED = 100  # connections open before the flood
DURING = 50  # connections opened during the flood and kept open
CONNECTS = 200  # short connections during the flood: each connect, GET, close
INTERVAL = 30  # seconds between a kept connection's requests: idle from the flood to the change
FLOOD_SECONDS = 12
FLOOD_SOURCES = "198.18.0.0/15"
ADDED, REWEIGHTED = "real3", ("real1", 3)
ACK_FLOOD_SECONDS = 6


def set_real(lab, vip, node, op, weight=None, check=True):
    args = ["real", op, vip_spec(vip["address"], vip["port"]), lab.address(node, 4), "--proto"]
    args += ["tcp", *(["--weight", weight] if weight is not None else [])]
    lab.dogfish(*args, check=check)


def ring_before_the_change(lab, vip):
    """The VIP on real1 and real2 at weight 1: the change adds real3 and reweights real1."""
    set_real(lab, vip, ADDED, "del", check=False)
    set_real(lab, vip, REWEIGHTED[0], "edit", 1)


class Flood:
    """clients/flood.py on the gateway, onto the balancer's link."""

    def __init__(self, lab, vip, flows, seconds, ack=False):
        gw, lb = lab.gateway, lab.balancer
        self.proc = lab.popen(
            gw,
            PYTHON,
            CLIENTS / "flood.py",
            "--iface",
            lb,
            "--dst-mac",
            lab.mac(lb, lab.balancer_iface),
            "--src-mac",
            lab.mac(gw, lb),
            "--dst",
            vip["address"],
            "--port",
            vip["port"],
            "--sources",
            FLOOD_SOURCES,
            "--flows",
            flows,
            "--seconds",
            seconds,
            *(["--ack"] if ack else []),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        lab.watch.note_pid(self.proc.pid)
        started = json.loads(self.proc.stdout.readline() or "{}")
        assert started.get("started"), f"the flood did not start: {started}"

    def running(self):
        return self.proc.poll() is None

    def result(self):
        line = self.proc.stdout.readline()
        self.proc.wait(timeout=30)
        assert line, f"the flood failed: {self.proc.stderr.read()}"
        return json.loads(line)


def test_a_syn_flood_evicts_no_flow_and_a_ring_change_after_it_moves_none(flood_lab):
    lab = flood_lab
    vip = lab.vip(4, "tcp")
    target = vip_spec(vip["address"], vip["port"])
    capacity = lab.stats()["conn_table"]["capacity"]
    ring_before_the_change(lab, vip)

    old = Talker(lab, [f"{target}={ESTABLISHED}"], interval=INTERVAL, watch=lab.watch)
    new = None
    try:
        assert len(old.ready["conns"]) == ESTABLISHED
        before = lab.stats()["conn_table"]
        flood = Flood(lab, vip, flows=16 * capacity, seconds=FLOOD_SECONDS)
        try:
            # Legitimate clients while it lasts: some stay, some connect and go.
            new = Talker(lab, [f"{target}={DURING}"], interval=INTERVAL, watch=lab.watch)
            connects = lab.client_script("tcp_flows.py", "--count", CONNECTS, target)[target]
            assert flood.running(), "the flood ended before the legitimate clients did"
        finally:
            sent = flood.result()
        after = lab.stats()["conn_table"]
        delta = {k: after[k] - before[k] for k in ("inserted", "skipped", "hash_decisions")}
        progress(
            f"flood: {sent['sent']} SYNs of {sent['flows']} flows in {sent['seconds']:.1f} s "
            f"({sent['pps']:.0f}/s) at a table of {capacity}; during it {DURING} connections "
            f"kept, {len(connects['flows'])} of {CONNECTS} connects completed; table {delta}"
        )
        assert sent["sent"] >= 10 * capacity and sent["flows"] >= 10 * capacity
        assert len(connects["flows"]) >= 0.99 * CONNECTS, f"connects failed: {connects['failed']}"
        assert delta["inserted"] <= DURING + CONNECTS, "the flood wrote to the table"

        # Right after the flood, before the established flows talk again: change the ring.
        reports = [old.report(), new.report()]
        set_real(lab, vip, ADDED, "add")
        set_real(lab, vip, REWEIGHTED[0], "edit", REWEIGHTED[1])
        for talker, report, what in ((old, reports[0], "before"), (new, reports[1], "during")):
            last = talker.wait_exchanges(1, report, timeout=2 * INTERVAL)
            assert broken(last) == {}, f"connections opened {what} the flood broke: {broken(last)}"
            moved = [c for c in last["conns"] if c["moved"]]
            assert moved == [], f"connections opened {what} the flood moved: {moved[:5]}"
        progress(
            f"add {ADDED}, reweight {REWEIGHTED[0]}={REWEIGHTED[1]}: 0 resets, 0 moved of "
            f"{ESTABLISHED} + {DURING} connections"
        )
    finally:
        for talker in (old, new):
            if talker:
                talker.kill()


def test_an_ack_flood_writes_no_more_than_the_guard_allows_and_moves_nothing(flood_lab):
    lab = flood_lab
    vip = lab.vip(4, "tcp")
    target = vip_spec(vip["address"], vip["port"])
    table = lab.stats()["conn_table"]
    capacity, rate = table["capacity"], table["insert_rate"]
    # Each CPU's bucket: half of its store for such misses, then `rate` a second.
    cpus = os.cpu_count()
    bound = cpus * (rate // 2 + rate * (ACK_FLOOD_SECONDS + 2))
    assert bound + ESTABLISHED < capacity, "the flood lab's table is too small to show the bound"
    ring_before_the_change(lab, vip)

    old = Talker(lab, [f"{target}={ESTABLISHED}"], interval=INTERVAL, watch=lab.watch)
    try:
        before = lab.stats()["conn_table"]
        flood = Flood(lab, vip, flows=16 * capacity, seconds=ACK_FLOOD_SECONDS, ack=True)
        sent = flood.result()
        after = lab.stats()["conn_table"]
        delta = {
            k: after[k] - before[k] for k in ("miss", "inserted", "skipped", "guard_engaged_s")
        }
        progress(
            f"ACK flood: {sent['sent']} of {sent['flows']} flows in {sent['seconds']:.1f} s "
            f"({sent['pps']:.0f}/s); table {delta}, at most {bound} allowed ({rate}/s per CPU)"
        )
        assert sent["sent"] >= 10 * capacity
        assert 0 < delta["inserted"] <= bound, "the guard let the flood write more than its rate"
        assert delta["skipped"] > 0 and delta["guard_engaged_s"] > 0

        report = old.report()
        set_real(lab, vip, ADDED, "add")
        set_real(lab, vip, REWEIGHTED[0], "edit", REWEIGHTED[1])
        last = old.wait_exchanges(1, report, timeout=2 * INTERVAL)
        assert broken(last) == {}, f"connections broke: {broken(last)}"
        assert [c for c in last["conns"] if c["moved"]] == []
        progress(f"add {ADDED}, reweight: 0 resets, 0 moved of {ESTABLISHED} connections")
    finally:
        old.kill()
