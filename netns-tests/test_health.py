"""Health checks in the lab: the balancer probes the VIP on each real, encapsulated to it as
clients' packets are (TCP connect for tcp/80, a UDP request for udp/53, every 500 ms, down
after 2 failures, up after 2 passes, as the lab configures it). Stopping real1's responder
takes it out of both families' TCP and UDP VIPs within fall x interval + 1 s, after which no
new flow goes to it or fails, and real2's established connections see no reset; starting it
again brings real1 back within rise x interval + 1 s. Taking the VIPs off real1's loopback
while its own address still answers does the same, and a capture on real1's link shows the
probes arriving encapsulated; with `via: real` (probes to the real's own address) it stays up."""
import ipaddress
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from e2e.capture import capturing
from e2e.lab import progress, vip_spec
from e2e.packets import encapsulated, flow
from e2e.traffic import Talker
from testlib import paths
from testlib.command import wait_for

RESPONDER = paths.binary("DOGFISH_RESPONDER", "lab/dogfish-responder")
# What the lab configures (lab/src/plan.cpp): interval 500 ms, rise 2, fall 2.
INTERVAL, RISE, FALL = 0.5, 2, 2
FLOWS = 40


def health_of(lab, vip, real_address):
    reals = lab.reals_of(vip_spec(vip["address"], vip["port"]), vip["proto"])
    for r in reals:
        if ipaddress.ip_address(r["address"]) == ipaddress.ip_address(real_address):
            return r["health"]
    raise AssertionError(f"{real_address} is not a real of {vip}: {reals}")


def services(lab):
    return [lab.vip(version, proto) for version in (4, 6) for proto in ("tcp", "udp")]


def address_of(lab, vip, node):
    version = ipaddress.ip_address(vip["address"]).version
    return lab.address(node, version)


def wait_state(lab, node, state, timeout):
    """Polls until every VIP reports `node` in `state`; returns the seconds it took."""
    t0 = time.monotonic()
    wait_for(
        lambda: all(
            health_of(lab, v, address_of(lab, v, node))["state"] == state for v in services(lab)
        ),
        f"{node} {state} in every VIP",
        timeout=timeout,
        interval=0.05,
    )
    return time.monotonic() - t0


def new_flows(lab):
    """FLOWS new TCP connections and UDP flows to each VIP: {target: (reals used, failures)}."""
    out = {}
    tcp = [vip_spec(v["address"], v["port"]) for v in services(lab) if v["proto"] == "tcp"]
    udp = [vip_spec(v["address"], v["port"]) for v in services(lab) if v["proto"] == "udp"]
    for target, r in lab.client_script("tcp_flows.py", "--count", FLOWS, *tcp).items():
        out[target] = ({real for _, real in r["flows"]}, len(r["failed"]))
    for target, r in lab.client_script(
        "udp_flows.py", "--count", FLOWS, "--timeout", 1, *udp
    ).items():
        out[target] = ({reals[0] for _, reals in r["flows"] if reals}, r["lost"])
    return out


def responder_of(lab, node):
    for p in lab.status["processes"]:
        if p["role"] == "responder" and p["node"] == node:
            return p
    raise AssertionError(f"the lab runs no responder on {node}")


@pytest.fixture
def stoppable_real(basic_lab):
    """real1 with its responder stopped on demand and started again by the test; whatever the
    test started is stopped at the end, even on failure."""
    lab = basic_lab
    lab.refresh()
    started = []

    def start():
        ports = {"tcp": set(), "udp": set()}
        for v in services(lab):
            ports[v["proto"]].add(str(v["port"]))
        proc = lab.popen(
            "real1",
            RESPONDER,
            "--name",
            "real1",
            "--tcp",
            *sorted(ports["tcp"]),
            "--udp",
            *sorted(ports["udp"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(proc)
        if lab.watch:
            lab.watch.note_pid(proc.pid)
        return proc

    yield lab, start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)


def test_a_stopped_real_leaves_and_comes_back(stoppable_real):
    lab, start = stoppable_real
    wait_state(lab, "real1", "up", timeout=10)
    wait_state(lab, "real2", "up", timeout=10)
    before = new_flows(lab)
    for target, (reals, failed) in before.items():
        assert reals == {"real1", "real2"} and failed == 0, f"{target}: {reals}, {failed} failed"

    # Connections to real2 held open across real1's fall: none may be reset.
    held = Talker(
        lab,
        [f"{vip_spec(v['address'], v['port'])}=10" for v in services(lab) if v["proto"] == "tcp"],
        watch=lab.watch,
    )
    try:
        baseline = held.report()
        stats0 = lab.stats()["health"]
        pid = responder_of(lab, "real1")["pid"]
        os.kill(pid, signal.SIGTERM)
        down_s = wait_state(lab, "real1", "down", timeout=FALL * INTERVAL + 1)
        progress(f"real1 down in every VIP {down_s:.2f} s after its responder stopped")
        for v in services(lab):
            assert health_of(lab, v, address_of(lab, v, "real2"))["state"] == "up"
        during = new_flows(lab)
        for target, (reals, failed) in during.items():
            assert reals == {"real2"}, f"{target}: new flows went to {reals} with real1 down"
            assert failed == 0, f"{target}: {failed} new flows failed with real1 down"
        report = held.wait_exchanges(3, baseline)
        on_real2 = [c for c in report["conns"] if c["real"] == "real2"]
        assert on_real2, "no held connection landed on real2"
        assert [c for c in on_real2 if c["state"] != "open" or c["moved"]] == []

        start()
        up_s = wait_state(lab, "real1", "up", timeout=RISE * INTERVAL + 1)
        progress(f"real1 up in every VIP {up_s:.2f} s after its responder started again")
        after = new_flows(lab)
        for target, (reals, failed) in after.items():
            assert "real1" in reals, f"{target}: real1 took no new flow after it came back"
            assert failed == 0, f"{target}: {failed} new flows failed"

        stats = lab.stats()["health"]
        assert stats["went_down"] - stats0["went_down"] == 4, stats
        assert stats["went_up"] - stats0["went_up"] == 4, stats
        held.stop()
    finally:
        held.kill()


def loopback_vips(lab, node, verb):
    """`ip addr add` or `del` of every VIP on the node's loopback, as the lab puts them there."""
    for address in sorted({v["address"] for v in lab.status["vips"]}):
        bits = ipaddress.ip_address(address).max_prefixlen
        lab.exec(node, "ip", "addr", verb, f"{address}/{bits}", "dev", "lo")


@pytest.fixture
def vipless_real(stoppable_real):
    """real1, serving (a responder started if an earlier test stopped the lab's), with the VIPs
    taken off its loopback by the test (`take()`); they are put back at the end, also on
    failure (or by the test: `give_back()`)."""
    lab, start = stoppable_real
    if not own_address_answers(lab, "real1"):
        start()
        wait_for(lambda: own_address_answers(lab, "real1"), "real1's responder", timeout=10)
    taken = []

    def take():
        loopback_vips(lab, "real1", "del")
        taken.append(True)

    def give_back():
        loopback_vips(lab, "real1", "add")
        taken.clear()

    yield lab, take, give_back
    if taken:
        give_back()


def own_address_answers(lab, node):
    """Whether TCP to the node's own addresses, both families, is answered by that node."""
    targets = [vip_spec(lab.address(node, v), 80) for v in (4, 6)]
    out = lab.client_script("tcp_flows.py", "--count", 2, "--timeout", 1, *targets)
    return all(r["failed"] == [] and {x for _, x in r["flows"]} == {node} for r in out.values())


def test_a_real_without_the_vip_is_found_by_the_probe_through_it(vipless_real, tmp_path):
    lab, take, give_back = vipless_real
    wait_state(lab, "real1", "up", timeout=10)
    lb_addrs = lab.balancer_addresses()
    vips = {ipaddress.ip_address(v["address"]) for v in services(lab)}
    real1 = {ipaddress.ip_address(lab.address("real1", v)) for v in (4, 6)}
    prefixes = lab.source_prefixes()
    with capturing(lab, [(lab.gateway, "real1")], tmp_path / "probes", watch=lab.watch) as caps:
        take()
        down_s = wait_state(lab, "real1", "down", timeout=FALL * INTERVAL + 1)
    assert own_address_answers(lab, "real1"), "only the VIPs should be gone"
    progress(f"real1 without its VIPs: down in every VIP {down_s:.2f} s later")

    probes = [
        p for p in caps[(lab.gateway, "real1")].packets if (f := flow(p)) and f[0] in lb_addrs
    ]
    assert probes, "no probe crossed real1's link"
    for p in probes:
        pair = encapsulated(p)
        assert pair, f"a probe arrived unencapsulated: {p.summary()}"
        outer, inner = pair
        outer_src = ipaddress.ip_address(outer.src)
        assert ipaddress.ip_address(inner.dst) in vips, p.summary()
        assert ipaddress.ip_address(outer.dst) in real1, p.summary()
        assert outer_src in prefixes[outer_src.version], p.summary()
    families = {ipaddress.ip_address(encapsulated(p)[1].dst).version for p in probes}
    assert families == {4, 6}, f"probes of the IPv{families} VIPs only"
    progress(f"{len(probes)} probes on real1's link, every one encapsulated to it, to a VIP")

    give_back()
    up_s = wait_state(lab, "real1", "up", timeout=RISE * INTERVAL + 1)
    progress(f"real1 with its VIPs again: up in every VIP {up_s:.2f} s later")


@pytest.fixture
def via_real(vipless_real):
    """The lab's configuration with `via: real` in every check, reloaded; the original at the
    end, reloaded."""
    lab, take, _ = vipless_real
    pid = lab.status["balancer"]["pid"]
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    config = Path(argv[argv.index("--config") + 1])
    original = config.read_text()
    assert "health: {type:" in original, "the lab's checks changed shape"
    config.write_text(original.replace("health: {type:", "health: {via: real, type:"))
    try:
        lab.dogfish("reload")
        yield lab, take
    finally:
        config.write_text(original)
        lab.dogfish("reload")


def test_via_real_probes_the_reals_own_address(via_real):
    lab, take = via_real
    wait_state(lab, "real1", "up", timeout=10)
    take()
    # Enough rounds that a probe through the VIP would have taken real1 down twice over.
    probes = lab.stats()["health"]["probes"]
    wait_for(
        lambda: lab.stats()["health"]["probes"] >= probes + 8 * (2 * FALL + 1),
        "probe rounds",
        timeout=10 * FALL * INTERVAL,
        interval=0.1,
    )
    states = {health_of(lab, v, address_of(lab, v, "real1"))["state"] for v in services(lab)}
    assert states == {"up"}, f"real1 went {states} though its own address answers"
    assert own_address_answers(lab, "real1")
    progress("via: real: real1 without its VIPs stays up (its own address answers)")
