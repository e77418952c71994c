"""Check 8: ICMP and path MTU across DSR, in the basic lab, with real sockets.

- `ping` and `ping -6` of the VIPs are answered, by the balancer (`tx_icmp_echo`).
- A 4 MB download from each VIP through a narrower hop on the client's side (the gateway's
  end of the client link at 1280 while the client's end stays at 1500, so the client still
  advertises a full-size MSS): the real's segments are too big for that hop, the gateway's
  ICMP error goes to the VIP, and the balancer sends it on to the real (`tx_icmp_error`),
  which lowers its path MTU. With the routing of errors turned off
  (`icmp_errors_to_reals: false`) the same download stalls.
- A 4 MB upload to each VIP with the balancer link at 1500 on both ends: full-size client
  segments do not fit once encapsulated; the balancer's too-big answer (`tx_icmp_too_big`,
  `max_packet_size` left to the link's MTU, re-read on reload) makes the client send
  smaller. With `max_packet_size: 0` (no limit, the old default) the same upload stalls.

Each test changes the lab (MTUs, the balancer's configuration) and puts it back after.
The transfers go to a bulk server (clients/bulk.py) on every real, behind a TCP service on
port 8000 of each VIP."""
import contextlib
import json
from pathlib import Path

import pytest

from e2e.lab import progress, reason_deltas, vip_spec
from e2e.traffic import LineClient

BULK_PORT = 8000
SIZE = 4 * 1024 * 1024
STALL = 8  # seconds without progress that make a stalled transfer
NARROW = 1280  # the gateway's end of the client link, in the download test


class Bulk:
    """A bulk server on every real, and a TCP service on BULK_PORT of each VIP in front of
    them, added back after every reload (a reload goes back to the configuration file)."""

    def __init__(self, lab):
        self.lab = lab
        self.servers = [
            LineClient(lab, "bulk.py", "serve", "--port", BULK_PORT, node=r, watch=lab.watch)
            for r in lab.reals
        ]
        for s in self.servers:
            s.answer(timeout=30)
        self.config = Path(self._daemon_argv()[self._daemon_argv().index("--config") + 1])
        self.original = self.config.read_text()
        self.add_services()

    def _daemon_argv(self):
        """The running daemon's own command line: it names the file it reloads."""
        pid = self.lab.status["balancer"]["pid"]
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")

    def add_services(self):
        for version in (4, 6):
            vip = self.lab.vip(version, "tcp")
            spec = vip_spec(vip["address"], BULK_PORT)
            self.lab.dogfish("vip", "add", spec, "--proto", "tcp")
            for real in vip["reals"]:
                self.lab.dogfish("real", "add", spec, real["address"], "--proto", "tcp")

    def target(self, version):
        return vip_spec(self.lab.vip(version, "tcp")["address"], BULK_PORT)

    @contextlib.contextmanager
    def configured(self, extra):
        """The lab's balancer configuration with `extra` top-level keys, reloaded; then the
        original, reloaded."""
        self.reload(self.original + extra)
        try:
            yield
        finally:
            self.reload(self.original)

    def reload(self, text=None):
        if text is not None:
            self.config.write_text(text)
        self.lab.dogfish("reload")
        self.add_services()

    def transfer(self, verb, version):
        return self.lab.client_script(
            "bulk.py", verb, self.target(version), "--bytes", SIZE, "--stall", STALL
        )

    def stop(self):
        for s in self.servers:
            s.kill()


@pytest.fixture(scope="module")
def bulk(basic_lab):
    b = Bulk(basic_lab)
    try:
        yield b
    finally:
        b.stop()


def mtu_of(lab, node, iface):
    return json.loads(lab.exec(node, "ip", "-j", "link", "show", "dev", iface).stdout)[0]["mtu"]


def set_mtu(lab, node, iface, mtu):
    lab.exec(node, "ip", "link", "set", "dev", iface, "mtu", mtu)


@contextlib.contextmanager
def mtus(lab, ends, mtu):
    """The MTU of each (node, interface) end set to `mtu`, and back to what it was after."""
    before = {(node, iface): mtu_of(lab, node, iface) for node, iface in ends}
    try:
        for node, iface in ends:
            set_mtu(lab, node, iface, mtu)
        yield
    finally:
        for (node, iface), old in before.items():
            set_mtu(lab, node, iface, old)


def forget_path_mtus(lab, nodes):
    """Drops what the nodes learned of path MTUs, so each phase starts from nothing. A real
    that learned one towards the client also advertises a smaller IPv6 MSS from it."""
    for node in nodes:
        lab.exec(node, "ip", "-4", "route", "flush", "cache")
        lab.exec(node, "ip", "-6", "route", "flush", "cache")


@contextlib.contextmanager
def forgetting(lab, nodes):
    """Path MTUs forgotten on the nodes before and after: nothing learned leaks out."""
    forget_path_mtus(lab, nodes)
    try:
        yield
    finally:
        forget_path_mtus(lab, nodes)


def measured(lab, run):
    """run()'s result and how much each reason grew meanwhile."""
    before = lab.stats()
    out = run()
    return out, reason_deltas(before, lab.stats())


@pytest.mark.parametrize("version", [4, 6])
def test_ping_of_a_vip_is_answered_by_the_balancer(basic_lab, version):
    lab = basic_lab
    vip = lab.vip(version, "tcp")["address"]
    flag = "-4" if version == 4 else "-6"
    out, deltas = measured(
        lab, lambda: lab.exec(lab.client, "ping", flag, "-c", 5, "-i", 0.2, "-W", 2, vip)
    )
    assert " 5 received" in out.stdout, out.stdout
    assert deltas["tx_icmp_echo"] == 5, deltas
    progress(f"ping {flag} {vip}: 5 of 5 answered, tx_icmp_echo +{deltas['tx_icmp_echo']}")


@pytest.mark.parametrize("version", [4, 6])
def test_download_through_a_narrow_hop_needs_errors_sent_to_the_real(basic_lab, bulk, version):
    lab = basic_lab
    with mtus(lab, [(lab.gateway, lab.client)], NARROW), forgetting(lab, lab.reals):
        with bulk.configured("icmp_errors_to_reals: false\n"):
            off, off_deltas = measured(lab, lambda: bulk.transfer("get", version))
        assert not off["complete"], f"the download completed with errors not routed: {off}"
        assert off_deltas["tx_icmp_error"] == 0
        assert off_deltas["pass_l4_proto"] > 0, "the gateway's errors never reached the balancer"
        progress(
            f"IPv{version} download, errors not routed: stalled after {off['bytes']} bytes "
            f"({off['error']}); pass_l4_proto +{off_deltas['pass_l4_proto']}"
        )

        forget_path_mtus(lab, lab.reals)
        on, on_deltas = measured(lab, lambda: bulk.transfer("get", version))
        assert on["complete"], f"the download did not complete: {on}"
        assert on_deltas["tx_icmp_error"] > 0, on_deltas
        assert on_deltas["drop_icmp_quote"] + on_deltas["drop_icmp_checksum"] == 0, on_deltas
        progress(
            f"IPv{version} download through a {NARROW}-byte hop: {SIZE} bytes in "
            f"{on['seconds']:.2f} s; tx_icmp_error +{on_deltas['tx_icmp_error']}"
        )


@pytest.mark.parametrize("version", [4, 6])
def test_upload_too_big_once_encapsulated_is_answered(basic_lab, bulk, version):
    lab = basic_lab
    link = [(lab.gateway, lab.balancer), (lab.balancer, lab.balancer_iface)]
    nodes = [lab.client, *lab.reals]
    with mtus(lab, link, 1500), forgetting(lab, nodes):
        with bulk.configured("max_packet_size: 0\n"):
            off, off_deltas = measured(lab, lambda: bulk.transfer("put", version))
        assert not off["complete"], f"the upload completed without a too-big answer: {off}"
        assert off_deltas["tx_icmp_too_big"] == 0
        progress(
            f"IPv{version} upload, max_packet_size 0: stalled after {off['bytes']} bytes "
            f"confirmed ({off['error']})"
        )

        # Back to the file as the lab wrote it: max_packet_size auto, now the link's 1500.
        forget_path_mtus(lab, nodes)
        on, on_deltas = measured(lab, lambda: bulk.transfer("put", version))
        assert on["complete"], f"the upload did not complete: {on}"
        assert on_deltas["tx_icmp_too_big"] > 0, on_deltas
        progress(
            f"IPv{version} upload over a 1500-byte balancer link: {SIZE} bytes in "
            f"{on['seconds']:.2f} s; tx_icmp_too_big +{on_deltas['tx_icmp_too_big']}"
        )
    bulk.reload()  # the link's MTU is back: the daemon reads it on reload
