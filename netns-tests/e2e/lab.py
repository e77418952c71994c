"""A lab of the suite's, brought up by dogfish-lab, and the balancer's CLI beside it.

Paths come from the environment CTest sets: DOGFISH_LAB and DOGFISH (the binaries);
DOGFISH_LAB_PREFIX and DOGFISH_LAB_DIR pass through to dogfish-lab, so the suite
can run beside another lab."""
import ipaddress
import json
import sys
import time
from pathlib import Path

from testlib import lab, paths
from testlib.command import run

DOGFISH = paths.binary("DOGFISH", "balancer/dogfish")
# The balancer compiled to other instructions, same maps and ABI (bpf/CMakeLists.txt): an upgrade.
BALANCER_REBUILT = paths.binary("DOGFISH_BALANCER_REBUILT", "bpf/balancer_rebuilt.bpf.o")
CLIENTS = Path(__file__).resolve().parents[1] / "clients"


_START = time.monotonic()


def progress(line):
    """A progress line on long work, visible with pytest -s and in CTest's output on failure;
    stamped with the seconds since the test process started, to show where a slow run's time
    went (CI's emulated guest runs its e2e checks with -s)."""
    print(f"[e2e {time.monotonic() - _START:6.1f}s] {line}", file=sys.stderr, flush=True)


class LabAlreadyUp(AssertionError):
    """A lab is up in our record directory already: not this run's, so never taken down by it."""


class Lab(lab.Lab):
    """One dogfish-lab lab. `watch` (a testlib Leftovers) is told what the lab runs, for check 7."""

    def __init__(self, topology, watch=None):
        super().__init__()
        self.topology = Path(topology)
        self.watch = watch

    # Life cycle -----------------------------------------------------------------------------

    def up(self):
        already = self.read_status()
        if "name" in already:  # a lab is recorded, up or half built
            prefix, record = already["prefix"], already["record_dir"]
            raise LabAlreadyUp(
                f"a lab is already up in {record} (prefix {prefix}): take it down with "
                f"`DOGFISH_LAB_DIR={record} DOGFISH_LAB_PREFIX={prefix} dogfish-lab down`, or run "
                f"the suite with another DOGFISH_LAB_DIR and DOGFISH_LAB_PREFIX"
            )
        t0 = time.monotonic()
        super().up(self.topology)
        progress(f"lab '{self.status['name']}' up in {time.monotonic() - t0:.1f} s")
        return self

    def refresh(self):
        super().refresh()
        if self.watch:
            self.watch.note_lab(self.status)
        return self.status

    # Running things in it ------------------------------------------------------------------

    def client_script(self, script, *args, node=None, timeout=300):
        """Runs one of clients/*.py in a node (the client by default); returns its JSON."""
        out = self.exec(
            node or self.client, paths.PYTHON, CLIENTS / script, *args, timeout=timeout
        ).stdout
        return json.loads(out)

    def restart_balancer(self):
        out = self.cli("restart-balancer").stdout
        self.refresh()
        return out

    def stop_balancer(self, node=None, kill=False):
        args = ([node] if node else []) + (["--kill"] if kill else [])
        out = self.cli("stop-balancer", *args).stdout
        self.refresh()
        return out

    def start_balancer(self, node=None, daemon_args=()):
        """The daemon's arguments need the node named before them (the CLI's rule)."""
        if daemon_args and not node:
            node = self.status["balancer"]["node"]
        args = ([node] if node else []) + (["--", *daemon_args] if daemon_args else [])
        out = self.cli("start-balancer", *args).stdout
        self.refresh()
        return out

    def balancer_addresses(self):
        """Every balancer's own addresses, both families: the sources of their health probes."""
        return {
            ipaddress.ip_address(self.address(node, v)) for node in self.balancers for v in (4, 6)
        }

    # The balancer's CLI: the first balancer's, or the named one's ---------------------------

    def dogfish(self, *args, check=True, balancer=None):
        socket = self.balancer_status(balancer)["socket"] if balancer else self.socket
        return run([DOGFISH, *args, "--socket", socket], check=check)

    def stats(self, balancer=None):
        return json.loads(self.dogfish("stats", "--json", balancer=balancer).stdout)

    def set_real(self, vips, node, op, weight=None, balancer=None):
        """`dogfish real OP` (add, edit, del) of the node's address of each VIP's family (VIPs
        as `status --json` gives them), on one balancer."""
        for v in vips:
            version = ipaddress.ip_address(v["address"]).version
            args = ["real", op, vip_spec(v["address"], v["port"]), self.address(node, version)]
            args += ["--proto", v["proto"]] + ([] if weight is None else ["--weight", weight])
            self.dogfish(*args, balancer=balancer)

    def reals_of(self, vip_spec, proto):
        return json.loads(self.dogfish("real", "list", vip_spec, "--proto", proto, "--json").stdout)


def vip_spec(address, port):
    """ADDR:PORT as the dogfish CLI takes it: [v6]:port."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def reason_deltas(before, after):
    """How much each of `dogfish stats --json`'s reasons grew."""
    return {k: after["reasons"][k] - before["reasons"].get(k, 0) for k in after["reasons"]}
