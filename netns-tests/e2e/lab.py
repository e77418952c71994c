"""A lab brought up by dogfish-lab, and the balancer's CLI beside it.

Paths come from the environment CTest sets: DOGFISH_LAB and DOGFISH (the binaries);
DOGFISH_LAB_PREFIX and DOGFISH_LAB_DIR pass through to dogfish-lab, so the suite
can run beside another lab."""
import ipaddress
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2]
LAB = os.environ.get("DOGFISH_LAB", str(SOURCE / "build/lab/dogfish-lab"))
DOGFISH = os.environ.get("DOGFISH", str(SOURCE / "build/balancer/dogfish"))
TOPOLOGIES = SOURCE / "topologies"
CLIENTS = Path(__file__).resolve().parents[1] / "clients"
PYTHON = "/usr/bin/python3"  # Debian's, with scapy (another python3 may come first on PATH)
PREFIX = os.environ.get("DOGFISH_LAB_PREFIX") or "df-"
RECORD = os.environ.get("DOGFISH_LAB_DIR") or "/run/dogfish-lab"


def run(argv, check=True, timeout=120, input=None):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, argv))} exited {proc.returncode}:\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
    return proc


def wait_for(predicate, what, timeout=10.0, interval=0.02):
    """Polls until predicate() is true; fails naming what was awaited."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def progress(line):
    """A progress line on long work, visible with pytest -s and in CTest's output on failure."""
    print(f"[e2e] {line}", file=sys.stderr, flush=True)


class LabAlreadyUp(AssertionError):
    """A lab is up in our record directory already: not this run's, so never taken down by it."""


class Lab:
    """One dogfish-lab lab. `watch` (a HostWatch) is told what the lab runs, for check 7."""

    def __init__(self, topology, watch=None):
        self.topology = Path(topology)
        self.watch = watch
        self.status = None

    # Life cycle -----------------------------------------------------------------------------

    def up(self):
        if run([LAB, "status", "--json"], check=False).returncode == 0:
            raise LabAlreadyUp(
                f"a lab is already up in {RECORD} (prefix {PREFIX}): take it down with "
                f"`DOGFISH_LAB_DIR={RECORD} DOGFISH_LAB_PREFIX={PREFIX} dogfish-lab down`, or run "
                f"the suite with another DOGFISH_LAB_DIR and DOGFISH_LAB_PREFIX"
            )
        t0 = time.monotonic()
        run([LAB, "up", str(self.topology)])
        self.refresh()
        progress(f"lab '{self.status['name']}' up in {time.monotonic() - t0:.1f} s")
        return self

    def down(self):
        run([LAB, "down"])

    def refresh(self):
        self.status = json.loads(run([LAB, "status", "--json"]).stdout)
        if self.watch:
            self.watch.note_lab(self.status)

    # Looking at it -------------------------------------------------------------------------

    @property
    def socket(self):
        return self.status["balancer"]["socket"]

    def node(self, name):
        return next(n for n in self.status["nodes"] if n["name"] == name)

    def nodes(self, role):
        return [n["name"] for n in self.status["nodes"] if n["role"] == role]

    @property
    def client(self):
        return self.nodes("client")[0]

    @property
    def gateway(self):
        return self.nodes("gateway")[0]

    @property
    def balancer(self):
        return self.status["balancer"]["node"]

    @property
    def reals(self):
        return self.nodes("real")

    @property
    def balancer_iface(self):
        return self.status["balancer"]["interface"]

    def source_prefixes(self):
        """The balancer's outer source prefixes, from the topology: {4: IPv4Network, 6: IPv6Network}."""
        text = self.topology.read_text()
        found = {}
        for version, key in ((4, "ipv4"), (6, "ipv6")):
            m = re.search(rf'{key}:\s*"?([0-9a-fA-F.:]+/\d+)', text.split("source_prefixes:", 1)[1])
            found[version] = ipaddress.ip_network(m.group(1))
        return found

    def address(self, node, version):
        """The node's address of that IP version, not a VIP on its loopback."""
        vips = {ipaddress.ip_address(v["address"]) for v in self.status["vips"]}
        for a in self.node(node)["addresses"]:
            ip = ipaddress.ip_interface(a)
            if ip.version == version and ip.ip not in vips and not ip.ip.is_link_local:
                return str(ip.ip)
        raise AssertionError(f"{node} has no IPv{version} address: {self.node(node)['addresses']}")

    def vip(self, version, proto):
        """(address, port, [reals]) of the topology's VIP service of that IP version and protocol."""
        for v in self.status["vips"]:
            if ipaddress.ip_address(v["address"]).version == version and v["proto"] == proto:
                return v
        raise AssertionError(f"the topology has no IPv{version} {proto} VIP")

    def real_node_of(self, address):
        """Which real node owns an address (as the balancer and the captures name reals)."""
        for r in self.reals:
            if any(
                ipaddress.ip_interface(a).ip == ipaddress.ip_address(address)
                for a in self.node(r)["addresses"]
            ):
                return r
        raise AssertionError(f"no real has the address {address}")

    def mac(self, node, iface):
        links = json.loads(self.exec(node, "ip", "-j", "link", "show", "dev", iface).stdout)
        return links[0]["address"]

    # Running things in it ------------------------------------------------------------------

    def exec(self, node, *argv, check=True, timeout=120):
        return run([LAB, "exec", node, "--", *map(str, argv)], check=check, timeout=timeout)

    def popen(self, node, *argv, **kw):
        """A background process in the node; dogfish-lab exec execs it, so the pid is its own."""
        return subprocess.Popen([LAB, "exec", node, "--", *map(str, argv)], text=True, **kw)

    def client_script(self, script, *args, node=None, timeout=300):
        """Runs one of clients/*.py in a node (the client by default); returns its JSON."""
        out = self.exec(
            node or self.client, PYTHON, CLIENTS / script, *args, timeout=timeout
        ).stdout
        return json.loads(out)

    def restart_balancer(self):
        out = run([LAB, "restart-balancer"]).stdout
        self.refresh()
        return out

    # The balancer's CLI --------------------------------------------------------------------

    def dogfish(self, *args, check=True):
        return run([DOGFISH, *map(str, args), "--socket", self.socket], check=check)

    def stats(self):
        return json.loads(self.dogfish("stats", "--json").stdout)

    def reals_of(self, vip_spec, proto):
        return json.loads(self.dogfish("real", "list", vip_spec, "--proto", proto, "--json").stdout)


def vip_spec(address, port):
    """ADDR:PORT as the dogfish CLI takes it: [v6]:port."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def reason_deltas(before, after):
    """How much each of `dogfish stats --json`'s reasons grew."""
    return {k: after["reasons"][k] - before["reasons"].get(k, 0) for k in after["reasons"]}
