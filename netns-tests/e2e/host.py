"""What a lab could leave on the host, and the check that it left nothing (check 7).

The host is shared: other labs, with other prefixes, come and go meanwhile. So
the check looks only at what is this suite's by name (its prefix, its record
directory) or by identity (the namespaces' inodes and the pids it saw while its
labs were up), never at the host as a whole."""
import os
import subprocess
from pathlib import Path

from e2e.lab import PREFIX, RECORD

BPFFS = Path("/sys/fs/bpf")
DECAP_PINS = BPFFS / "dogfish-decap"  # dogfish-decap pins per namespace, by its inode


def _netns_names():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _host_links():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def _live_netns_inodes():
    inodes = set()
    for name in _netns_names():
        try:
            inodes.add(os.stat(f"/run/netns/{name}").st_ino)
        except FileNotFoundError:
            pass
    return inodes


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


class HostWatch:
    """Snapshot before; what the labs made is noted while they are up; check after."""

    def __init__(self):
        self.links_before = _host_links()
        self.netns_inodes = set()  # of our labs' namespaces
        self.pids = set()  # of our labs' processes and our captures
        self.link_names = set()  # interface names our labs use

    def note_lab(self, status):
        for n in status["nodes"]:
            self.netns_inodes.add(os.stat(f"/run/netns/{n['netns']}").st_ino)
            self.link_names.add(n["name"])
        self.pids.update(p["pid"] for p in status["processes"])

    def note_pid(self, pid):
        self.pids.add(pid)

    def leftovers(self):
        """Everything of ours still on the host, by kind; empty when the host is clean."""
        found = {}
        ns = [n for n in _netns_names() if n.startswith(PREFIX)]
        if ns:
            found["namespaces"] = ns
        pins = BPFFS / f"{PREFIX}lab"
        if pins.exists():
            found["balancer pins"] = sorted(str(p) for p in pins.rglob("*")) or [str(pins)]
        # An inode freed by our namespace may be reused by someone else's live one: not ours then.
        live = _live_netns_inodes()
        decap = [
            str(DECAP_PINS / str(i))
            for i in sorted(self.netns_inodes - live)
            if (DECAP_PINS / str(i)).exists()
        ]
        if decap:
            found["decap pins"] = decap
        alive = sorted(p for p in self.pids if _alive(p))
        if alive:
            found["processes"] = alive
        procs = subprocess.run(["pgrep", "-a", "-f", RECORD], capture_output=True, text=True).stdout
        procs = [line for line in procs.splitlines() if "pgrep" not in line]
        if procs:
            found["processes using the record"] = procs
        if Path(RECORD).exists():
            found["record"] = [RECORD]
        links = sorted((_host_links() - self.links_before) & self.link_names)
        if links:
            found["host links"] = links
        return found
