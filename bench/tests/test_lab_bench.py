"""lab-bench as a user runs it, with tiny durations: its --json has every measure in the shape
bench/README.md gives, it refuses to touch a lab that is already up, and whether it finishes or is
interrupted it leaves the host as it found it. No timing is asserted: figures on a shared machine
are noise; the ratios only have to be measured."""
import json
import os
import signal
import subprocess
import time

import pytest

from testlib import paths
from testlib.command import run
from testlib.lab import Lab, own_place
from testlib.leftovers import Leftovers

BENCH = os.environ.get("LAB_BENCH", str(paths.SOURCE / "bench/lab-bench"))
BUILD = str(paths.build_dir())
# A lab of this test's own, apart from any other on the host.
PREFIX, RECORD, LAB_ENV = own_place("lbt")
ENV = dict(LAB_ENV, BUILD_DIR=BUILD)
MEASURES = {"tcp_upload", "tcp_download", "tcp_connect", "pps"}
LAB = Lab(env=ENV)
# What lab-bench could leave behind: its namespaces, pins, record, and the processes it starts
# (iperf3 and HAProxy servers, responders, the lab's daemons), told from other labs' on a
# shared machine by what they were started with: this build, this record, lab-bench's files.
HOST = Leftovers(
    PREFIX,
    RECORD,
    programs="iperf3 -s|haproxy -db|dogfish-responder|dogfish run",
    marks=(BUILD + "/", "/lab-bench-", "iperf3 -s -p 5201"),
)
KINDS = ("namespaces", "pins", "record", "processes")


def bench(*args, timeout=300):
    return run([BENCH, *args], check=False, timeout=timeout, env=ENV)


def lab(*args):
    return LAB.cli(*args, check=False)


@pytest.fixture
def clean_host():
    before = HOST.snapshot(KINDS)
    assert not before["namespaces"] and not before["pins"] and not before["record"]
    yield
    lab("down")
    after = HOST.snapshot(KINDS)
    # Other work on the machine may start processes meanwhile; none of ours may stay.
    after["processes"] = [p for p in after["processes"] if p not in before["processes"]]
    assert after == {"namespaces": [], "pins": [], "record": False, "processes": []}


def test_help_is_true():
    out = bench("--help")
    assert out.returncode == 0
    for word in ("--json", "--only", "--duration", "--rounds", "DOGFISH_LAB_PREFIX", *MEASURES):
        assert word in out.stdout


def test_bad_option_names_it():
    out = bench("--only", "tcp_upload,nonsense")
    assert out.returncode == 2 and "'nonsense' is not a measure" in out.stderr


def test_json_has_every_ratio(clean_host):
    out = bench("--duration", "1", "--rounds", "1", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["lab"]["prefix"] == PREFIX
    assert report["settings"]["rounds"] == 1 and report["settings"]["duration"] == 1
    results = report["results"]
    assert set(results) == MEASURES
    for name, r in results.items():
        base = r["baseline"]
        assert base == ("floor" if name == "pps" else "direct"), name
        assert r["baseline_value"] > 0 and r["dogfish"] > 0, (name, r)
        assert len(r["rounds"]) == 1 and r["ratio"] == pytest.approx(
            r["dogfish"] / r["baseline_value"]
        )
        if name == "tcp_connect":
            assert r["target"] is None and r["met"] is None
        else:
            assert r["met"] == (r["ratio"] >= r["target"]), (name, r)
        # HAProxy is on every client path; it has no place on the balancer's own link.
        assert ("haproxy" in r) == (name != "pps"), name
        if name != "pps":
            assert r["haproxy"] > 0 and r["haproxy_ratio"] > 0
    # Progress went to stderr, one line per step.
    assert "[1/6] dogfish-lab up" in out.stderr and "[6/6]" in out.stderr


def test_table_by_default(clean_host):
    out = bench("--duration", "1", "--rounds", "1", "--only", "pps", "--no-haproxy")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("lab 'basic': 1 rounds of 1 s")
    header = lines[2].split()
    assert header[:5] == ["measure", "unit", "baseline", "dogfish", "ratio"]
    assert lines[3].startswith("UDP frames, balancer link") and "floor" in lines[3]


def test_leaves_an_existing_lab_alone(clean_host):
    assert lab("up").returncode == 0
    pid = json.loads(lab("status", "--json").stdout)["balancer"]["pid"]
    out = bench("--duration", "1", "--rounds", "1")
    assert out.returncode == 1 and "a lab is already up" in out.stderr
    st = json.loads(lab("status", "--json").stdout)
    assert st["balancer"]["pid"] == pid and st["balancer"]["running"]


def test_interrupted_takes_everything_down(clean_host):
    p = subprocess.Popen(
        [BENCH, "--duration", "3", "--rounds", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    # Interrupt once the first measure runs: lab up, servers and HAProxy started.
    deadline = time.monotonic() + 120
    seen = ""
    while "[3/6]" not in seen:
        line = p.stderr.readline()
        assert line or p.poll() is None, f"lab-bench ended early: {seen}"
        seen += line
        assert time.monotonic() < deadline, seen
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, seen + err
    assert "interrupted" in err
