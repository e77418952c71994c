"""What a lab or a test could leave on the host, and the check that it left nothing.

The host is shared: other labs, with other prefixes, come and go meanwhile. So only what
is ours is looked at: by name (the lab's prefix, its record directory, marks on a command
line) or by identity (the namespaces, pin directories and pids noted while our lab was up),
never the host as a whole; and nothing foreign is touched."""
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from testlib import netns
from testlib.command import run

BPFFS = Path("/sys/fs/bpf")
# dogfish-decap pins per network namespace, by its inode (decap/README.md); the lab's
# `status --json` names each node's, so only what no lab describes needs this.
DECAP_PINS = BPFFS / "dogfish-decap"
# The programs a lab runs on its nodes.
LAB_PROGRAMS = "dogfish-responder|dogfish run|dogfish-decap"
KINDS = ("namespaces", "pins", "decap pins", "processes", "record", "links")


def decap_pin_dir(inode):
    return DECAP_PINS / str(inode)


def host_links():
    """Interface names in the host's own namespace."""
    out = run(["ip", "-o", "link", "show"]).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _tree(path):
    """path and everything below it, as sorted strings."""
    return sorted(str(p) for p in [path, *path.rglob("*")])


def _pgrep(pattern):
    out = run(["pgrep", "-a", "-f", pattern], check=False).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def _ours(pid, foreign):
    """Not inside a namespace of others' (nor gone meanwhile: then nobody's leftover)."""
    ino = netns.process_inode(pid)
    return ino is not None and ino not in foreign


class Leftovers:
    """The lab's prefix and record directory (`dogfish-lab status --json` says them). What
    counts as a process of ours: one whose command line names the record, or one of
    `programs` (a pgrep pattern) whose command line holds one of `marks`; never one inside a
    namespace that is not ours."""

    def __init__(self, prefix, record, programs=LAB_PROGRAMS, marks=()):
        self.prefix, self.record = prefix, record.rstrip("/")
        self.programs, self.marks = programs, tuple(marks)
        self.links_before = host_links()
        # Noted while our labs are up (note_lab, note_pid).
        self.link_names = set()
        self.pids = set()
        self.pin_dirs = set()
        self.decap_pin_dirs = {}  # path -> inode of the namespace it belongs to

    # By name: a snapshot to compare ---------------------------------------------------------

    def _foreign_inodes(self):
        """Live namespaces that are not ours: other work on the host owns them, and the decap
        pins (named by inode) and the processes inside them."""
        return netns.inodes(n for n in netns.names() if not n.startswith(self.prefix))

    def snapshot(self, kinds=KINDS):
        """{kind: what of ours is on the host} for each of `kinds`:
        namespaces  named with the prefix
        pins        everything under /sys/fs/bpf/PREFIX*
        decap pins  dogfish-decap's pin directories but those of live namespaces not ours
        processes   ours (see the class), as `pgrep -a` lines
        record      whether the record directory exists
        links       every interface of the host's namespace"""
        foreign = self._foreign_inodes() if {"decap pins", "processes"} & set(kinds) else set()
        found = {}
        if "namespaces" in kinds:
            found["namespaces"] = sorted(n for n in netns.names() if n.startswith(self.prefix))
        if "pins" in kinds:
            found["pins"] = sorted(p for d in BPFFS.glob(self.prefix + "*") for p in _tree(d))
        if "decap pins" in kinds:
            found["decap pins"] = sorted(
                p
                for d in (DECAP_PINS.iterdir() if DECAP_PINS.exists() else ())
                if not (d.name.isdigit() and int(d.name) in foreign)
                for p in _tree(d)
            )
        if "processes" in kinds:
            lines = set(_pgrep(self.record + "/"))
            lines |= {p for p in _pgrep(self.programs) if any(m in p for m in self.marks)}
            found["processes"] = sorted(p for p in lines if _ours(int(p.split()[0]), foreign))
        if "record" in kinds:
            found["record"] = os.path.exists(self.record)
        if "links" in kinds:
            found["links"] = sorted(host_links())
        return found

    def ours(self, kinds=KINDS):
        """The snapshot's kinds that hold anything: {} when none of ours is on the host."""
        return {k: v for k, v in self.snapshot(kinds).items() if v}

    # By identity: what our labs were seen to make -------------------------------------------

    def note_lab(self, status):
        """Notes what a lab's `status --json` says it made."""
        for n in status["nodes"]:
            self.link_names.add(n["name"])
            if "decap_pin_dir" in n:
                self.decap_pin_dirs[n["decap_pin_dir"]] = netns.inode(n["netns"])
        self.pin_dirs.update(d for d in status["pin_dirs"] if d not in self.decap_pin_dirs)
        self.pids.update(p["pid"] for p in status["processes"])

    def note_pid(self, pid):
        self.pids.add(pid)

    def left(self):
        """Everything of ours still on the host, by kind; {} when the host is clean: what is
        ours by name (namespaces, pins, processes, record), by identity (pin directories and
        pids noted), and host links with the names our labs used that were not there before."""
        found = self.ours(("namespaces", "pins", "processes", "record"))
        pins = sorted(d for d in self.pin_dirs if os.path.exists(d))
        # A freed inode may name someone else's live namespace meanwhile: its pins are not ours.
        live = netns.inodes(netns.names())
        decap = sorted(
            d for d, ino in self.decap_pin_dirs.items() if ino not in live and os.path.exists(d)
        )
        if pins:
            found["pin dirs"] = pins
        if decap:
            found["decap pins"] = decap
        if pids := sorted(p for p in self.pids if alive(p)):
            found["pids"] = pids
        if links := sorted((host_links() - self.links_before) & self.link_names):
            found["links"] = links
        return found


@contextmanager
def bpffs_left_as_found():
    """iproute2 makes folders of its own in bpffs when it loads an object (tc/globals, and
    ip and xdp as links to tc), dogfish-decap its pin root: whichever the body made is
    removed after it when it holds no pin."""
    before = set(os.listdir(BPFFS))
    try:
        yield
    finally:
        made = [BPFFS / name for name in set(os.listdir(BPFFS)) - before]
        for path in made:
            if (
                path.is_dir()
                and not path.is_symlink()
                and not any(files for _, _, files in os.walk(path))
            ):
                shutil.rmtree(path)
        for path in made:
            if path.is_symlink() and not path.exists():
                path.unlink()
