"""The soak (issue 17): the basic lab's VIPs kept busy while the configuration keeps changing
and the daemon reloads and restarts, for DOGFISH_SOAK_SECONDS (60 by default; CI runs that).

Traffic, all the time: long-lived keep-alive HTTP connections to both TCP VIPs talking every
100 ms, a stream of new short connections beside them (talker.py --churn), and rounds of UDP
request/answer flows to both UDP VIPs. Changes, one per step, in a cycle: a VIP added with
both reals, reweighted, a real drained and deleted from it, the VIP deleted; the busy VIPs'
reals reweighted and drained and restored; `dogfish reload`; and every third of the run
`dogfish-lab restart-balancer` (SIGKILL, then a new daemon adopting the pinned maps).

What must hold: no long-lived connection breaks (no reset, timeout or close), no new
connection fails, no UDP request goes unanswered, and a capture of every RST on the client's
link finds none from a VIP (a real answering a segment of a flow it does not hold: a flow
sent to the wrong real) and none of the long-lived connections'; a real deleted only ever from the VIP
that no traffic uses, so every reset would be unexplained. And the daemon's memory stays
flat: each daemon's RSS at its end is within SLACK_KB of its RSS after its first full cycle.

The hour: DOGFISH_SOAK_SECONDS=3600 (README, "Testing"). The figures are printed at the end
(pytest -s, or CTest's output on failure) and written to $DOGFISH_SOAK_REPORT if set."""
import ipaddress
import json
import os
import time

import pytest

from e2e.capture import capturing
from e2e.lab import progress, vip_spec
from e2e.packets import RST_FILTER, flow, has_rst, port_keys
from e2e.traffic import Talker, broken, conn_key

SECONDS = float(os.environ.get("DOGFISH_SOAK_SECONDS", "60"))
PER_VIP = 16  # long-lived connections to each TCP VIP
UDP_FLOWS = 8  # UDP flows to each UDP VIP, each round
SLACK_KB = 2048  # allocator noise allowed per daemon, RSS
EXTRA_PORT = 8080  # the VIP the changes add and delete: no traffic goes there


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class Changes:
    """The cycle of configuration changes, one step at a time, through the dogfish CLI."""

    def __init__(self, lab):
        self.lab = lab
        self.busy = [lab.vip(v, "tcp") for v in (4, 6)]
        self.extra = vip_spec(lab.vip(4, "tcp")["address"], EXTRA_PORT)
        self.reals = lab.reals
        self.done = 0
        self.steps = [
            lambda: self.cli("vip", "add", self.extra),
            lambda: [self.cli("real", "add", self.extra, self.addr(r)) for r in self.reals],
            lambda: self.cli("real", "edit", self.extra, self.addr(self.reals[0]), "--weight", 5),
            lambda: self.busy_weight(self.reals[1], 3),
            lambda: self.cli("real", "edit", self.extra, self.addr(self.reals[1]), "--weight", 0),
            lambda: self.busy_weight(self.reals[1], 0),
            lambda: self.cli("real", "del", self.extra, self.addr(self.reals[1])),
            lambda: self.busy_weight(self.reals[1], 1),
            lambda: self.cli("vip", "del", self.extra),
            lambda: self.cli("reload"),
        ]

    def addr(self, node, version=4):
        return self.lab.address(node, version)

    def cli(self, *args):
        self.lab.dogfish(*map(str, args))

    def busy_weight(self, node, weight):
        for v in self.busy:
            version = ipaddress.ip_address(v["address"]).version
            self.cli(
                "real",
                "edit",
                vip_spec(v["address"], v["port"]),
                self.addr(node, version),
                "--weight",
                weight,
            )

    def step(self):
        self.steps[self.done % len(self.steps)]()
        self.done += 1

    def at_cycle_end(self):
        return self.done % len(self.steps) == 0


def udp_round(lab):
    targets = [vip_spec(lab.vip(v, "udp")["address"], lab.vip(v, "udp")["port"]) for v in (4, 6)]
    out = lab.client_script("udp_flows.py", "--count", UDP_FLOWS, "--timeout", 3, *targets)
    return sum(r["lost"] for r in out.values()), sum(len(r["flows"]) for r in out.values())


def run_changes(lab, changes, talker, figures, rss, restart_every):
    """The cycle of changes until SECONDS are over; UDP rounds and checks at each cycle's end."""
    t0 = next_restart = time.monotonic()
    next_restart += restart_every
    while time.monotonic() - t0 < SECONDS:
        changes.step()
        if changes.at_cycle_end():
            lost, flows = udp_round(lab)
            figures["udp_lost"] += lost
            figures["udp_requests"] += flows
            pid = lab.status["balancer"]["pid"]
            rss.setdefault(pid, []).append(rss_kb(pid))
            report = talker.report()
            assert not broken(report), f"long-lived connections broke: {broken(report)}"
            if time.monotonic() >= next_restart:
                lab.restart_balancer()
                figures["restarts"] += 1
                next_restart += restart_every


def rst_verdicts(capture, vips, conns):
    """(RSTs sent from a VIP, RSTs naming a long-lived connection) among the capture's."""
    vip_addrs = {ipaddress.ip_address(v["address"]) for v in vips}
    talking = {conn_key(c) for c in conns}
    resets = [p for p in capture.packets if has_rst(p)]
    from_vip = [p for p in resets if flow(p)[0] in vip_addrs]
    long_lived = [p for p in resets if port_keys(p) & talking]
    return from_vip, long_lived


def test_soak(basic_lab, tmp_path):
    lab = basic_lab
    changes = Changes(lab)
    targets = [f"{vip_spec(v['address'], v['port'])}={PER_VIP}" for v in changes.busy]
    talker = Talker(lab, targets, interval=0.1, churn=True, watch=lab.watch)
    figures = {"seconds": SECONDS, "restarts": 0, "changes": 0, "udp_requests": 0, "udp_lost": 0}
    rss = {}  # daemon pid: [RSS at each cycle end]
    restart_every = SECONDS / 3
    link = (lab.client, lab.gateway)
    try:
        with capturing(lab, [(*link, RST_FILTER)], tmp_path / "soak", watch=lab.watch) as caps:
            run_changes(lab, changes, talker, figures, rss, restart_every)
            report = talker.report()
        final = talker.stop()
    finally:
        talker.kill()
    from_vip, long_lived = rst_verdicts(caps[link], changes.busy, report["conns"])
    figures["rst_from_vips"] = len(from_vip)
    figures["rst_long_lived"] = len(long_lived)
    figures["changes"] = changes.done
    figures["long_lived"] = len(final["conns"])
    figures["exchanges"] = sum(c["exchanges"] for c in final["conns"])
    figures["broken"] = dict(broken(final))
    figures["new_connections"] = sum(c["ok"] for c in final["churn"].values())
    figures["new_failed"] = sum(len(c["failed"]) for c in final["churn"].values())
    figures["rss_kb"] = {str(pid): [kb[0], kb[-1]] for pid, kb in rss.items()}
    progress(f"soak figures: {json.dumps(figures)}")
    if path := os.environ.get("DOGFISH_SOAK_REPORT"):
        with open(path, "w") as f:
            json.dump(figures, f, indent=2)

    assert figures["broken"] == {}, figures
    assert from_vip == [], f"RSTs from a VIP on the client's link: {from_vip[:3]}"
    assert long_lived == [], f"RSTs of long-lived connections: {long_lived[:3]}"
    assert figures["new_failed"] == 0, [c["failed"][:3] for c in final["churn"].values()]
    assert figures["new_connections"] > 0 and figures["exchanges"] > 0, figures
    assert figures["udp_lost"] == 0 and figures["udp_requests"] > 0, figures
    assert figures["restarts"] >= 1 or SECONDS < 30, figures
    grown = {pid: kb[-1] - kb[0] for pid, kb in rss.items() if len(kb) >= 2}
    assert grown, f"no daemon lived two cycles: make DOGFISH_SOAK_SECONDS longer ({rss})"
    assert all(g <= SLACK_KB for g in grown.values()), f"RSS grew (KiB per daemon): {grown}"


@pytest.fixture(autouse=True)
def _no_leftover_extra_vip(basic_lab):
    """The lab is the module's: leave it as the topology says, also after a failure."""
    yield
    basic_lab.dogfish("reload", check=False)
