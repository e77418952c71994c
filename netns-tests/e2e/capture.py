"""Captures: tcpdump in a node's network namespace, written to a pcap, read with scapy.

A capture is only evidence when it is complete: a marker frame sent out of the
captured interface at the end shows that every packet before it is in the file, and
stop() fails when the kernel dropped packets."""
import os
import re
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager

from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap

from e2e.lab import progress
from testlib import netns
from testlib.command import wait_for

MARKER_TYPE = 0x88B5  # IEEE 802 local experimental EtherType: every stack ignores it
MARKER_MAC = "02:df:00:00:00:01"


class Capture:
    def __init__(self, lab, node, iface, path, bpf_filter=None, snaplen=256):
        self.lab, self.node, self.iface, self.path = lab, node, iface, str(path)
        self.filter, self.snaplen = bpf_filter, snaplen
        self.proc = None
        self.stderr = []
        self.packets = None
        self.counts = {}
        self.token = None

    def __repr__(self):
        return f"capture on {self.node}:{self.iface}"

    def start(self):
        # Immediate mode: packets reach the file as they come, not when a ring block fills.
        # -Z root: Debian's tcpdump would otherwise drop to its own user.
        argv = [
            "tcpdump",
            "-i",
            self.iface,
            "-w",
            self.path,
            "-U",
            "--immediate-mode",
            "-n",
            "-s",
            str(self.snaplen),
            "-Z",
            "root",
        ]
        if self.filter:
            argv.append(f"({self.filter}) or ether proto {MARKER_TYPE:#x}")
        self.proc = self.lab.popen(
            self.node, *argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        wait_for(
            lambda: any("listening on" in line for line in self.stderr)
            or self.proc.poll() is not None,
            f"tcpdump to listen on {self.node}:{self.iface}",
            timeout=10,
        )
        if self.proc.poll() is not None:
            self.reader.join(timeout=2)
            raise AssertionError(
                f"tcpdump on {self.node}:{self.iface} exited: {''.join(self.stderr)}"
            )
        return self

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def mark(self):
        """Sends a marker frame out of the captured interface. Once the file holds it, it holds
        every packet that crossed the interface before: the capture is complete up to now."""
        self.token = b"dogfish-e2e-marker-" + os.urandom(8).hex().encode()
        frame = bytes(
            Ether(dst="ff:ff:ff:ff:ff:ff", src=MARKER_MAC, type=MARKER_TYPE) / Raw(self.token)
        )
        with netns.socket_in(
            self.lab.node(self.node)["netns"], socket.AF_PACKET, socket.SOCK_RAW
        ) as s:
            s.bind((self.iface, 0))
            s.send(frame)

    def _holds_token(self):
        try:
            with open(self.path, "rb") as f:
                return self.token in f.read()
        except FileNotFoundError:
            return False

    def stop(self):
        """Waits for the marker (mark() first), stops tcpdump, reads the packets before the marker.
        Fails when the kernel dropped packets: a capture with holes proves nothing."""
        wait_for(self._holds_token, f"the marker in {self}", timeout=10)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"tcpdump on {self.node}:{self.iface} did not stop on SIGINT")
        self.reader.join(timeout=5)
        text = "".join(self.stderr)
        for key in ("captured", "received by filter", "dropped by kernel"):
            m = re.search(rf"(\d+) packets? {key}", text)
            if not m:
                raise AssertionError(
                    f"tcpdump on {self.node}:{self.iface} said no '{key}' count:\n{text}"
                )
            self.counts[key] = int(m.group(1))
        if self.counts["dropped by kernel"]:
            raise AssertionError(f"{self} is incomplete: {self.counts}")
        # Up to our marker; another capture's (on the link's other end) is skipped too.
        self.packets = []
        for p in rdpcap(self.path):
            if p.haslayer(Ether) and p[Ether].type == MARKER_TYPE:
                if self.token in bytes(p):
                    break
                continue
            self.packets.append(p)
        return self.packets

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def capturing(lab, points, directory, watch=None, **kw):
    """Captures at each (node, iface[, filter]) point for the body; {(node, iface): Capture}.
    Each is stopped and read after a body that returned; killed after one that raised.
    The pcaps are written to `directory` (made if missing; one directory a use)."""
    directory.mkdir(parents=True, exist_ok=True)
    caps = {}
    try:
        started = time.monotonic()
        for point in points:
            node, iface, flt = (*point, None)[:3]
            cap = Capture(lab, node, iface, directory / f"{node}-{iface}.pcap", flt, **kw)
            caps[(node, iface)] = cap
            cap.start()
            if watch:
                watch.note_pid(cap.proc.pid)
        progress(f"{len(caps)} captures listening in {time.monotonic() - started:.1f} s")
        yield caps
        started = time.monotonic()
        for cap in caps.values():
            cap.mark()
        for cap in caps.values():
            cap.stop()
        read = sum(len(cap.packets) for cap in caps.values())
        progress(
            f"{len(caps)} captures stopped, {read} packets read in {time.monotonic() - started:.1f} s"
        )
    finally:
        for cap in caps.values():
            cap.kill()
