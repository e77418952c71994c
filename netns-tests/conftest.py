"""Fixtures of the end-to-end suite: each test module gets its own lab, brought up by
dogfish-lab and always taken down, also when a test or the bring-up failed; the session
fails if anything of the suite's is left on the host afterwards (check 7)."""
import os
import sys
import time
from pathlib import Path

import pytest

from testlib.lab import Lab as LabCli
from testlib.leftovers import Leftovers
from testlib.paths import TOPOLOGIES

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e.lab import Lab, LabAlreadyUp, progress  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def host():
    if os.geteuid() != 0:
        pytest.skip("the end-to-end suite needs root (namespaces, BPF, captures)")
    prefix, record = LabCli().place()
    watch = Leftovers(prefix, record)
    if found := watch.left():
        # Another run's lab (or its remains) under our prefix: not ours to remove or to judge.
        pytest.fail(
            f"the host already has a lab or its remains under prefix {prefix} and record {record}: "
            f"{found}; `dogfish-lab down` with those in DOGFISH_LAB_PREFIX/DOGFISH_LAB_DIR "
            f"removes them, or run the suite with another prefix and record",
            pytrace=False,
        )
    yield watch
    # dogfish-lab down waits for what it stops; the deadline only covers a slow exit.
    deadline = time.monotonic() + 10
    while (left := watch.left()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"the suite left on the host: {left}"
    progress("host clean: no namespaces, pins, processes, record or links of the suite left")


def _lab(topology, variant=None):
    """A module's lab from topologies/TOPOLOGY; variant(text) -> text makes a copy of it with
    something changed."""

    @pytest.fixture(scope="module")
    def fixture(host, tmp_path_factory):
        path = TOPOLOGIES / topology
        if variant:
            copy = tmp_path_factory.mktemp("topology") / topology
            copy.write_text(variant(path.read_text()))
            path = copy
        lab = Lab(path, watch=host)
        try:
            lab.up()
        except LabAlreadyUp:
            raise  # not ours to take down
        except BaseException:
            lab.down()
            raise
        try:
            yield lab
        finally:
            lab.down()

    return fixture


basic_lab = _lab("basic.yaml")
multi_lab = _lab("multi-real.yaml")
flood_lab = _lab("flood.yaml")
ecmp_lab = _lab("ecmp.yaml")
gue_lab = _lab("gue.yaml")


def _without_bfd(text):
    assert text.count("\n  bfd: true\n") == 1, "ecmp.yaml no longer says bgp.bfd: true once"
    return text.replace("\n  bfd: true\n", "\n  bfd: false\n")


ecmp_hold_lab = _lab("ecmp.yaml", _without_bfd)

# Prefix VIPs of each family beside basic.yaml's own, served by both reals, and the gateway's
# routes to them (test_prefix.py).
PREFIX_VIPS = {4: "10.100.1.0/24", 6: "fd00:101::/120"}


def _with_prefix_vips(text):
    last_route = '      - {to: "fd00:100::1/128", via: "fd00:2::2"}\n'
    assert text.count(last_route) == 1, "basic.yaml's gateway no longer routes fd00:100::1 last"
    assert text.count("\nbalancer:\n") == 1, "basic.yaml has no balancer section after its VIPs"
    routes = "".join(
        f'      - {{to: "{PREFIX_VIPS[v]}", via: "{via}"}}\n'
        for v, via in ((4, "10.0.2.2"), (6, "fd00:2::2"))
    )
    vips = "".join(
        f'  - address: "{p}"\n    services: [{{port: 80, proto: tcp}}]\n'
        "    reals: [{node: real1}, {node: real2}]\n"
        for p in PREFIX_VIPS.values()
    )
    text = text.replace(last_route, last_route + routes)
    return text.replace("\nbalancer:\n", vips + "\nbalancer:\n")


prefix_lab = _lab("basic.yaml", _with_prefix_vips)
