"""dogfish-lab from the tests: its CLI, and the lab as `dogfish-lab status --json` describes it.

What the tests need to know of a lab they ask the lab: its prefix and record directory
(also when none is up), nodes, roles, namespaces and addresses, VIPs and reals, the
balancer's node, interface, socket, pid and source prefixes, the pin directories `down`
removes. None of it is re-derived from a topology file or from naming rules."""
import ipaddress
import json
import os
import subprocess

from testlib import paths
from testlib.command import CommandFailed, run


def own_place(stem):
    """(prefix, record directory, environment naming both) of this process's own: a test's lab
    never touches the one a user has up under the defaults, nor another run's. Both start
    with $DOGFISH_LAB_PREFIX when it is set, so what the tests make still carries it."""
    prefix = f"{os.environ.get('DOGFISH_LAB_PREFIX', '')}{stem}{os.getpid() % 10000}-"
    record = f"/run/dogfish-lab-{prefix.rstrip('-')}"
    return prefix, record, dict(os.environ, DOGFISH_LAB_PREFIX=prefix, DOGFISH_LAB_DIR=record)


class Lab:
    """dogfish-lab ($DOGFISH_LAB, else the build tree's), run with `env` (None: this process's).
    `status` holds what refresh() last read."""

    def __init__(self, env=None):
        self.binary = paths.binary("DOGFISH_LAB", "lab/dogfish-lab")
        self.env = env
        self.status = None

    # The CLI ---------------------------------------------------------------------------------

    def cli(self, *args, check=True, timeout=120, env=None):
        return run([self.binary, *args], check=check, timeout=timeout, env=env or self.env)

    def read_status(self, check=False):
        """`status --json`, parsed. With no lab up it says {"up": false, "prefix", "record_dir"}
        (and exits 1: with check, that fails)."""
        proc = self.cli("status", "--json", check=check)
        try:
            return json.loads(proc.stdout)
        except ValueError:
            raise CommandFailed(
                f"{self.binary} status --json exited {proc.returncode} without JSON:\n"
                f"{proc.stdout}\n{proc.stderr}"
            ) from None

    def refresh(self):
        self.status = self.read_status(check=True)
        return self.status

    def up(self, topology=None, env=None):
        out = self.cli("up", *([topology] if topology else []), env=env)
        self.refresh()
        return out

    def down(self, check=True):
        return self.cli("down", check=check)

    def exec(self, node, *argv, check=True, timeout=120):
        return self.cli("exec", node, "--", *argv, check=check, timeout=timeout)

    def popen(self, node, *argv, **kw):
        """A background process in the node; dogfish-lab exec execs it, so the pid is its own."""
        return subprocess.Popen(
            [self.binary, "exec", node, "--", *map(str, argv)], text=True, env=self.env, **kw
        )

    # Where it lives, up or not ------------------------------------------------------------------

    def place(self):
        """(prefix, record directory) of the lab this environment names."""
        st = self.read_status()
        return st["prefix"], st["record_dir"]

    # The lab that is up, as refresh() read it --------------------------------------------------

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
    def balancers(self):
        """Every balancer's node, the first first (standby ones too)."""
        return [b["node"] for b in self.status["balancers"]]

    def balancer_status(self, node):
        """A balancer's object of `status --json`: node, netns, interface, gateway_interface,
        socket, pid, running, standby, bgp."""
        for b in self.status["balancers"]:
            if b["node"] == node:
                return b
        raise AssertionError(f"the lab has no balancer {node}: {self.balancers}")

    @property
    def reals(self):
        return self.nodes("real")

    @property
    def balancer_iface(self):
        return self.status["balancer"]["interface"]

    def source_prefixes(self):
        """The balancer's outer source prefixes: {4: IPv4Network, 6: IPv6Network}."""
        prefixes = self.status["balancer"]["source_prefixes"]
        return {
            4: ipaddress.ip_network(prefixes["ipv4"]),
            6: ipaddress.ip_network(prefixes["ipv6"]),
        }

    def address(self, node, version):
        """The node's address of that IP version, not a VIP on its loopback."""
        vips = {ipaddress.ip_address(v["address"]) for v in self.status["vips"]}
        for a in self.node(node)["addresses"]:
            ip = ipaddress.ip_interface(a)
            if ip.version == version and ip.ip not in vips and not ip.ip.is_link_local:
                return str(ip.ip)
        raise AssertionError(f"{node} has no IPv{version} address: {self.node(node)['addresses']}")

    def vip(self, version, proto):
        """The first VIP service of that IP version and protocol: {address, port, proto, reals}."""
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
