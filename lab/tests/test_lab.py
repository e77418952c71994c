"""dogfish-lab up/status/exec/down on the shipped topologies: every VIP answers
through the balancer from more than one real, status says what the topology
says, and nothing is left on the host afterwards: not after a clean down, a
failed up, a bad topology, processes that died, or an `up` killed at any moment.

The labs are the tests' own (own_place): a lab a user has up is never looked at."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from testlib import netns
from testlib.lab import Lab, own_place
from testlib.leftovers import Leftovers
from testlib.paths import PYTHON, TOPOLOGIES

ASK = Path(__file__).with_name("ask_vips.py")
PREFIX, RECORD, ENV = own_place("lt")
LAB = Lab(env=ENV)
lab = LAB.cli
# What a lab could leave behind, by the names it uses (other work on a shared host comes and
# goes meanwhile, with its own namespaces, decap pins and responders: those are not looked at).
HOST = Leftovers(PREFIX, RECORD, marks=("dogfish-responder --name",))


@pytest.fixture
def clean_host():
    """The host before; after the test (pass or fail) any lab is taken down and the host must match."""
    LAB.down(check=False)
    before = HOST.snapshot()
    yield before
    lab("down")
    assert HOST.snapshot() == before


def basic_with(path, old, new):
    """topologies/basic.yaml with `old` replaced by `new`, written to path."""
    text = (TOPOLOGIES / "basic.yaml").read_text()
    assert old in text, f"basic.yaml has no {old!r}"
    path.write_text(text.replace(old, new))
    return path


def status():
    return LAB.read_status(check=True)


def ask(node, count, specs):
    out = LAB.exec(node, PYTHON, ASK, count, *specs).stdout
    return json.loads(out)


def specs_of(st):
    return [f"{v['proto']}:{v['address']}:{v['port']}" for v in st["vips"]]


@pytest.mark.parametrize("topology", ["basic.yaml", "multi-real.yaml"])
def test_every_vip_answers_from_more_than_one_real(clean_host, topology):
    up = lab("up", str(TOPOLOGIES / topology))
    assert "is up" in up.stdout
    st = status()
    answers = ask("client", 40, specs_of(st))
    assert len(answers) == len(st["vips"])
    for spec, reals in answers.items():
        assert sum(reals.values()) == 40, spec
        assert len(reals) > 1, f"{spec}: every flow went to {reals}"
        configured = {r["node"] for v in st["vips"] for r in v["reals"]}
        assert set(reals) <= configured, f"{spec}: answered by {reals}, not a configured real"


def test_status_says_what_the_topology_says(clean_host):
    lab("up")
    st = status()
    assert st["up"] is True and st["name"] == "basic"
    nodes = {n["name"]: n for n in st["nodes"]}
    assert {n: v["role"] for n, v in nodes.items()} == {
        "client": "client",
        "gw": "gateway",
        "lb": "balancer",
        "real1": "real",
        "real2": "real",
    }
    assert all(n["netns"] == PREFIX + name for name, n in nodes.items())
    assert set(nodes["client"]["addresses"]) == {"10.0.1.2/24", "fd00:1::2/64"}
    assert set(nodes["gw"]["addresses"]) == {
        "10.0.1.1/24",
        "fd00:1::1/64",
        "10.0.2.1/24",
        "fd00:2::1/64",
        "10.0.3.1/24",
        "fd00:3::1/64",
        "10.0.4.1/24",
        "fd00:4::1/64",
    }
    # The VIPs sit on the reals' loopback, as DSR needs.
    assert {"10.100.0.1/32", "fd00:100::1/128"} <= set(nodes["real1"]["addresses"])
    assert {(v["address"], v["port"], v["proto"]) for v in st["vips"]} == {
        ("10.100.0.1", 80, "tcp"),
        ("10.100.0.1", 53, "udp"),
        ("fd00:100::1", 80, "tcp"),
        ("fd00:100::1", 53, "udp"),
    }
    for v in st["vips"]:
        assert [r["node"] for r in v["reals"]] == ["real1", "real2"]
    assert st["balancer"]["running"] is True
    assert os.path.exists(st["balancer"]["socket"])
    assert st["balancer"]["metrics"] == "127.0.0.1:9773"  # in the balancer's namespace
    # The table says the same.
    text = lab("status").stdout
    assert "real1" in text and "10.100.0.1" in text and "running" in text


def test_up_twice_and_down_twice(clean_host):
    lab("up")
    pid = status()["balancer"]["pid"]
    again = lab("up", check=False)
    assert again.returncode == 0
    assert "already up" in again.stderr
    assert status()["balancer"]["pid"] == pid, "a second up must not touch the running lab"
    other = lab("up", str(TOPOLOGIES / "multi-real.yaml"), check=False)
    assert other.returncode == 1 and "'basic' is already up" in other.stderr
    first = lab("down")
    assert "is down" in first.stdout
    second = lab("down")
    assert "nothing to remove" in second.stdout
    assert lab("status", check=False).returncode == 1


def test_down_after_the_processes_died(clean_host):
    lab("up")
    for p in status()["processes"]:
        os.kill(p["pid"], signal.SIGKILL)
    # The balancer's pins outlive a SIGKILL: down must remove them too.
    deadline = time.monotonic() + 10
    while any(p["running"] for p in status()["processes"]):
        assert time.monotonic() < deadline, "killed processes still running"
        time.sleep(0.05)
    lab("down")  # clean_host checks that nothing is left


def test_bad_topology_fails_with_its_message_and_leaves_nothing(clean_host, tmp_path):
    bad = basic_with(tmp_path / "bad.yaml", "role: gateway", "role: router")
    proc = lab("up", str(bad), check=False)
    assert proc.returncode == 1
    line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1) if "role: router" in l)
    assert f"{bad}:{line}:" in proc.stderr and "'router' is not a role" in proc.stderr
    assert HOST.snapshot() == clean_host


def test_failed_up_removes_what_it_made(clean_host, tmp_path):
    # Valid as a file, impossible on the host: the client's route points at a
    # gateway on no link, so the kernel refuses it halfway through up.
    bad = basic_with(
        tmp_path / "unreachable.yaml",
        "{to: default, via: 10.0.1.1}",
        "{to: default, via: 10.9.9.9}",
    )
    proc = lab("up", str(bad), check=False)
    assert proc.returncode == 1
    assert "up failed" in proc.stdout and "10.9.9.9" in proc.stderr
    assert HOST.snapshot() == clean_host


def test_interrupted_up_removes_what_it_made(clean_host):
    proc = subprocess.Popen(
        [LAB.binary, "up"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )
    # Interrupt once the lab's first namespace exists: mid-build.
    deadline = time.monotonic() + 30
    while not os.path.exists(netns.RUN_DIR / f"{PREFIX}client"):
        assert proc.poll() is None and time.monotonic() < deadline, "up never started building"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "interrupted" in err
    assert HOST.snapshot() == clean_host


def test_exec_runs_in_the_node_and_returns_its_status(clean_host):
    lab("up")
    out = lab("exec", "real1", "--", "ip", "-o", "addr", "show", "dev", "lo").stdout
    assert "10.100.0.1/32" in out
    proc = lab("exec", "client", "--", "sh", "-c", "exit 7", check=False)
    assert proc.returncode == 7
    proc = lab("exec", "nosuch", "--", "true", check=False)
    assert proc.returncode == 1 and "no node 'nosuch'" in proc.stderr


def test_restart_balancer_adopts_and_keeps_serving(clean_host):
    lab("up")
    old = status()["balancer"]["pid"]
    out = lab("restart-balancer").stdout
    assert f"pid {old} killed" in out
    st = status()
    assert st["balancer"]["running"] is True and st["balancer"]["pid"] != old
    answers = ask("client", 10, specs_of(st))
    assert all(sum(r.values()) == 10 for r in answers.values())
    log = next(p["log"] for p in st["processes"] if p["role"] == "balancer")
    assert "adopted" in Path(log).read_text()


def kernel_has_tunnels():
    """ipip and ip6_tunnel built in, loaded, or there to load: what kernel decap needs."""
    for module in ("ipip", "ip6_tunnel"):
        if Path("/sys/module", module).exists():
            continue
        if (
            shutil.which("modinfo")
            and subprocess.run(["modinfo", module], capture_output=True).returncode == 0
        ):
            continue
        return False
    return True


def env_with(decap):
    env = {k: v for k, v in ENV.items() if k != "DOGFISH_LAB_DECAP"}
    if decap:
        env["DOGFISH_LAB_DECAP"] = decap
    return env


def decap_of_reals():
    return {n["name"]: n.get("decap") for n in status()["nodes"] if n["role"] == "real"}


def tunnel_rx(real):
    """Packets each kernel tunnel device of a real (dfipip, dfip6tnl) has received."""
    links = json.loads(lab("exec", real, "--", "ip", "-j", "-s", "link", "show").stdout)
    return {
        link["ifname"]: link["stats64"]["rx"]["packets"]
        for link in links
        if link["ifname"].startswith("dfip")
    }


@pytest.mark.skipif(
    not kernel_has_tunnels(),
    reason="this kernel has no ipip / ip6_tunnel (lab/vm runs this in a VM)",
)
def test_kernel_decap_serves_every_vip_through_the_tunnels(clean_host):
    lab("up", env=env_with("kernel"))
    assert decap_of_reals() == {"real1": "kernel", "real2": "kernel"}
    before = {r: tunnel_rx(r) for r in ("real1", "real2")}
    # One ipip device for the real's IPv4 address, one ip6tnl for its IPv6 one.
    assert all(set(rx) == {"dfipip", "dfip6tnl"} for rx in before.values()), before
    st = status()
    answers = ask("client", 40, specs_of(st))
    for spec, reals in answers.items():
        assert sum(reals.values()) == 40 and len(reals) > 1, f"{spec}: {reals}"
    after = {r: tunnel_rx(r) for r in ("real1", "real2")}
    # 40 flows per service, each of at least one packet, arrived on the tunnels: on both reals, both families.
    for real in after:
        for dev in after[real]:
            assert (
                after[real][dev] > before[real][dev]
            ), f"{real} {dev} received nothing: {before} → {after}"
    assert sum(after[r][d] - before[r][d] for r in after for d in after[r]) >= 40 * len(answers)


@pytest.mark.skipif(
    kernel_has_tunnels(), reason="this kernel has ipip / ip6_tunnel: nothing falls back"
)
def test_kernel_decap_asked_for_by_environment_fails_without_tunnels(clean_host):
    proc = lab("up", env=env_with("kernel"), check=False)
    assert proc.returncode == 1
    assert "DOGFISH_LAB_DECAP=kernel, but this kernel has no ipip tunnels" in proc.stderr
    assert HOST.snapshot() == clean_host


def test_topology_kernel_decap_uses_the_tunnels_where_the_kernel_has_them(clean_host, tmp_path):
    topology = basic_with(
        tmp_path / "kernel.yaml", "    role: real\n", "    role: real\n    decap: kernel\n"
    )
    up = lab("up", str(topology), env=env_with(None))
    expected = "kernel" if kernel_has_tunnels() else "bpf"
    assert decap_of_reals() == {"real1": expected, "real2": expected}
    if expected == "bpf":
        assert "this kernel has no ipip tunnels; using dogfish-decap (BPF) instead" in up.stdout
    answers = ask("client", 10, specs_of(status()))
    assert all(sum(r.values()) == 10 for r in answers.values()), answers


def test_decap_environment_overrides_the_topology(clean_host):
    lab("up", env=env_with("bpf"))
    assert decap_of_reals() == {"real1": "bpf", "real2": "bpf"}
    lab("down")
    bad = lab("up", env=env_with("ebpf"), check=False)
    assert bad.returncode == 1 and "DOGFISH_LAB_DECAP 'ebpf' is not bpf or kernel" in bad.stderr


def test_down_removes_only_what_the_lab_made(clean_host):
    os.makedirs(RECORD)
    mine = Path(RECORD, "notes.txt")
    try:
        mine.write_text("not the lab's\n")
        lab("up")
        lab("down")
        assert mine.read_text() == "not the lab's\n"
        assert os.listdir(RECORD) == ["notes.txt"]
    finally:
        shutil.rmtree(RECORD, ignore_errors=True)


# Moments to kill `up` at, each a thing it has just made: every kind of step is covered.
MOMENTS = {
    "namespaces": lambda: os.path.exists(netns.RUN_DIR / f"{PREFIX}client"),
    "decap": lambda: any(n.startswith("decap-") for n in os.listdir(RECORD)),
    "responders": lambda: any(n.startswith("responder-") for n in os.listdir(RECORD)),
    "balancer": lambda: os.path.exists(Path(RECORD, "balancer.log")),
    "balancer socket": lambda: os.path.exists(Path(RECORD, "dogfish.sock")),
}


def killed_up(moment):
    """`up` killed with SIGKILL as soon as `moment` is true; its output."""
    proc = subprocess.Popen(
        [LAB.binary, "up"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV
    )
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if MOMENTS[moment]():
                    break
            except FileNotFoundError:
                pass  # no record directory yet
            assert proc.poll() is None, f"up ended before the moment {moment}: {proc.stdout.read()}"
            assert time.monotonic() < deadline, f"up never reached the moment {moment}"
            time.sleep(0.001)
    finally:
        proc.kill()
    return proc.communicate(timeout=30)[0]


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_down_after_up_was_killed_leaves_nothing(clean_host, moment):
    if moment == "decap" and ENV.get("DOGFISH_LAB_DECAP") == "kernel":
        pytest.skip("kernel tunnels start no decap process: there is no such moment")
    killed_up(moment)
    lab("down")
    # What a killed `up` had started may still be starting: nothing may appear afterwards.
    time.sleep(0.5)
    assert HOST.snapshot() == clean_host
