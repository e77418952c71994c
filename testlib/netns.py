"""Network namespaces: the host's, by name, and the ones a test makes for itself.

A test's namespaces get names no other run uses (unique()) and are removed when the test
ends, also when it fails. Commands run in one through nsenter, which keeps the host's
mounts: pins made under /sys/fs/bpf outlive the command (`ip netns exec` would give it a
private mount namespace, and the pins would vanish with it; DESIGN.md, lab facts 5)."""
import ctypes
import itertools
import os
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from testlib.command import run

RUN_DIR = Path("/run/netns")  # where `ip netns` keeps them
_serial = itertools.count()


def names():
    """The named namespaces on the host, as `ip netns list` gives them."""
    out = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def inode(name):
    """The namespace's inode (what tells it apart for as long as it lives); None once gone."""
    try:
        return os.stat(RUN_DIR / name).st_ino
    except FileNotFoundError:
        return None


def inodes(of_names):
    return {i for i in map(inode, of_names) if i is not None}


def process_inode(pid):
    """The inode of the namespace a process runs in; None once it is gone."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except FileNotFoundError:
        return None


def enter(target, *argv):
    """argv run in a namespace: a name under /run/netns, or a path such as /proc/PID/ns/net."""
    path = target if str(target).startswith("/") else RUN_DIR / target
    return ["nsenter", f"--net={path}", *argv]


def run_in(target, *argv, **kw):
    """command.run of argv in the namespace (enter())."""
    return run(enter(target, *argv), **kw)


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def socket_in(target, family, kind, proto=0):
    """A socket made in the namespace (as enter() names it), for this process to use: no
    command to start, which in CI's emulated guest costs seconds. setns() moves only the
    thread that calls it, so a thread of its own enters, makes the socket and ends; the
    socket stays in the namespace it was made in."""
    path = target if str(target).startswith("/") else RUN_DIR / target
    made = {}

    def make():
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET):
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into {path}: {os.strerror(err)}")
            finally:
                os.close(fd)
            made["socket"] = socket.socket(family, kind, proto)
        except OSError as e:
            made["error"] = e

    t = threading.Thread(target=make)
    t.start()
    t.join()
    if "error" in made:
        raise made["error"]
    return made["socket"]


def unique(stem):
    """A namespace name of this run's own: stem-PID-N."""
    return f"{stem}-{os.getpid()}-{next(_serial)}"


def require_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces, BPF)")


@contextmanager
def made(*wanted):
    """Makes each namespace (the test is skipped when the host cannot) and removes every one
    it made when the body ends, also on failure."""
    done = []
    try:
        for name in wanted:
            r = run(["ip", "netns", "add", name], check=False)
            if r.returncode:
                pytest.skip(f"cannot make a network namespace: {r.stderr.strip()}")
            done.append(name)
        yield wanted
    finally:
        for name in reversed(done):
            run(["ip", "netns", "del", name], check=False)


def veth(end, peer):
    """A veth pair between two (namespace, device) ends; the same namespace twice is fine."""
    (ns, dev), (peer_ns, peer_dev) = end, peer
    run(
        [
            "ip",
            "link",
            "add",
            dev,
            "netns",
            ns,
            "type",
            "veth",
            "peer",
            "name",
            peer_dev,
            "netns",
            peer_ns,
        ]
    )
