"""`dogfish run` in a private network namespace, on a veth pair.

Each test gets its own namespace, pin directory and socket, and tears them down
even when it fails. Needs root, bpffs and veth; skips with a reason otherwise.
Run by CTest (label netns) with DOGFISH set to the binary:
    DOGFISH=build/balancer/dogfish /usr/bin/python3 -m pytest balancer/tests/daemon_netns_test.py
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from testlib import netns, paths
from testlib.command import run as run_argv
from testlib.command import wait_for
from testlib.leftovers import BPFFS

DOGFISH = paths.binary("DOGFISH", "balancer/dogfish")
XDP_PASS = paths.binary("DOGFISH_XDP_PASS", "lab/xdp_pass.bpf.o")
IFACE = "dfbal"
PEER = "dfgw"

CONFIG = """\
interface: {iface}
xdp_mode: auto
gateway: 02:00:00:00:00:01
conn_table_size: 4096
max_vips: 8
max_reals: 64
vips:
  - address: 10.100.0.1
    port: 80
    proto: tcp
    reals:
      - {{ address: 10.0.1.1 }}
      - {{ address: 10.0.1.2, weight: 2 }}
"""


def run(*cmd, check=True):
    return run_argv(cmd, check=check, timeout=30)


@pytest.fixture
def ns():
    """A namespace of the test's own with the veth pair IFACE - PEER in it."""
    netns.require_root()
    if not os.path.ismount(BPFFS):
        pytest.skip(f"bpffs is not mounted at {BPFFS}")
    name = netns.unique("df-daemon")
    with netns.made(name):
        netns.veth((name, IFACE), (name, PEER))
        run("ip", "-n", name, "link", "set", IFACE, "up")
        run("ip", "-n", name, "link", "set", PEER, "up")
        yield name


class Daemon:
    """One `dogfish run` in the namespace; stopped and cleaned up by the fixture."""

    def __init__(self, ns, tmp_path, config=CONFIG):
        self.ns = ns
        self.config = tmp_path / "dogfish.yaml"
        self.config.write_text(config.format(iface=IFACE))
        self.socket = str(tmp_path / "dogfish.sock")
        self.pin_dir = f"{BPFFS}/dogfish-test-{ns}"
        self.log = tmp_path / "dogfish.log"
        self.proc = None

    def start(self, *extra):
        self.proc = subprocess.Popen(
            netns.enter(self.ns, *self.run_argv(), *extra),
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
        )

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"dogfish run exited {self.proc.returncode}:\n" + self.log.read_text()
                )
            return os.path.exists(self.socket) and self.cli_ok("vip", "list")

        wait_for(ready, "the control socket")

    def run_argv(self):
        return [
            DOGFISH,
            "run",
            "--config",
            str(self.config),
            "--socket",
            self.socket,
            "--pin-dir",
            self.pin_dir,
        ]

    def teardown_argv(self):
        return [
            DOGFISH,
            "teardown",
            "--interface",
            IFACE,
            "--pin-dir",
            self.pin_dir,
            "--socket",
            self.socket,
        ]

    def teardown(self):
        """`dogfish teardown` in the namespace; its output."""
        return run(*netns.enter(self.ns, *self.teardown_argv())).stdout

    def attach_foreign(self):
        """Another XDP program on IFACE (the lab's pass-through); its id."""
        run("ip", "-n", self.ns, "link", "set", IFACE, "xdp", "obj", XDP_PASS, "sec", "xdp")
        return self.xdp_prog()

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=10)

    def cli(self, *args, check=True):
        return run(DOGFISH, *args, "--socket", self.socket, check=check)

    def cli_ok(self, *args):
        return self.cli(*args, check=False).returncode == 0

    def vips(self):
        return json.loads(self.cli("vip", "list", "--json").stdout)

    def xdp_prog(self):
        link = json.loads(run("ip", "-n", self.ns, "-j", "-d", "link", "show", IFACE).stdout)[0]
        return link.get("xdp", {}).get("prog", {}).get("id")

    def egress_filters(self):
        """`tc filter show` of IFACE's egress: where the probes' encapsulation sits."""
        return run("tc", "-n", self.ns, "filter", "show", "dev", IFACE, "egress").stdout

    def dump(self, map_name):
        out = run("bpftool", "-j", "map", "dump", "pinned", f"{self.pin_dir}/{map_name}").stdout
        return json.loads(out)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for mode in ("xdp", "xdpgeneric"):
            run("ip", "-n", self.ns, "link", "set", IFACE, mode, "off", check=False)
        shutil.rmtree(self.pin_dir, ignore_errors=True)


@pytest.fixture
def daemon(ns, tmp_path):
    d = Daemon(ns, tmp_path)
    try:
        d.start()
        yield d
    finally:
        d.cleanup()


def formatted(entries):
    return [e.get("formatted", e) for e in entries]


def real_addresses(d):
    """Configured entries of the reals array: {id: "a.b.c.d"} for IPv4 ones."""
    out = {}
    for e in formatted(d.dump("reals")):
        v = e["value"]
        if v["family"] == 4:
            out[e["key"]] = ".".join(str(b) for b in v["addr"][:4])
    return out


def test_attaches_and_serves_the_configured_vip(daemon):
    assert daemon.xdp_prog() is not None
    vips = daemon.vips()
    assert [v["vip"] for v in vips] == ["10.100.0.1:80/tcp"]
    assert [(r["address"], r["weight"]) for r in vips[0]["reals"]] == [
        ("10.0.1.1", 1),
        ("10.0.1.2", 2),
    ]
    assert len(daemon.dump("vips")) == 1
    assert sorted(real_addresses(daemon).values()) == ["10.0.1.1", "10.0.1.2"]


def test_gateway_address_resolved_through_the_neighbour_table(ns, tmp_path):
    run("ip", "-n", ns, "addr", "add", "192.0.2.1/24", "dev", IFACE)
    run(
        "ip",
        "-n",
        ns,
        "neigh",
        "add",
        "192.0.2.2",
        "lladdr",
        "02:00:00:00:00:aa",
        "dev",
        IFACE,
        "nud",
        "permanent",
    )
    d = Daemon(ns, tmp_path, CONFIG.replace("gateway: 02:00:00:00:00:01", "gateway: 192.0.2.2"))
    try:
        d.start()
        cfg = d.dump("config")[0]["formatted"]["value"][".bss"][0]["df_cfg"]
        assert cfg["gateway_mac"] == [2, 0, 0, 0, 0, 0xAA]
        assert cfg["gateway_set"] == 1
    finally:
        d.cleanup()


def test_cli_changes_show_in_the_maps(daemon):
    daemon.cli("vip", "add", "10.100.0.2:53", "--proto", "udp")
    daemon.cli("real", "add", "10.100.0.2:53", "10.0.1.3", "--proto", "udp", "--weight", "3")
    daemon.cli("vip", "add", "[fd00::1]:80", "--flags", "no_conn_table")
    vips = {v["vip"]: v for v in daemon.vips()}
    assert set(vips) == {"10.100.0.1:80/tcp", "10.100.0.2:53/udp", "[fd00::1]:80/tcp"}
    assert vips["[fd00::1]:80/tcp"]["flags"] == ["no_conn_table"]
    assert len(daemon.dump("vips")) == 3
    reals = real_addresses(daemon)
    assert "10.0.1.3" in reals.values()
    new_id = vips["10.100.0.2:53/udp"]["reals"][0]["id"]
    assert reals[new_id] == "10.0.1.3"

    # Delete: the real's entry is cleared, the VIP's gone from the map.
    daemon.cli("real", "del", "10.100.0.2:53", "10.0.1.3", "--proto", "udp")
    assert "10.0.1.3" not in real_addresses(daemon).values()
    daemon.cli("vip", "del", "10.100.0.2:53", "--proto", "udp")
    assert len(daemon.dump("vips")) == 2


def test_any_port_vip_and_hash_flags_from_the_cli(daemon):
    daemon.cli("vip", "add", "10.100.0.1:*/tcp", "--flags", "dport_hash_only")
    daemon.cli("vip", "edit", "10.100.0.1:80", "--flags", "no_src_port_hash")
    vips = {v["vip"]: v for v in daemon.vips()}
    assert vips["10.100.0.1:*/tcp"]["port"] == 0
    assert vips["10.100.0.1:*/tcp"]["flags"] == ["dport_hash_only"]
    assert vips["10.100.0.1:80/tcp"]["flags"] == ["no_src_port_hash"]
    # The key's bytes as bpftool prints them ("0x0a", ...): the port, big-endian, at 16.
    ports = {int(e["key"][16], 16) << 8 | int(e["key"][17], 16) for e in daemon.dump("vips")}
    assert ports == {0, 80}, "port 0 in the map is the any-port VIP"
    listed = daemon.cli("vip", "list").stdout
    assert "10.100.0.1:*/tcp" in listed and "dport_hash_only" in listed
    daemon.cli("vip", "edit", "10.100.0.1:*/tcp", "--flags", "none")
    assert {v["vip"]: v for v in daemon.vips()}["10.100.0.1:*/tcp"]["flags"] == []


def test_prefix_vip_from_the_cli(daemon):
    daemon.cli("vip", "add", "10.100.1.0/24:80/tcp")
    daemon.cli("real", "add", "10.100.1.0/24:80", "10.0.1.2")
    daemon.cli("vip", "add", "[fd00:101::/120]:*", "--proto", "udp")
    vips = {v["vip"]: v for v in daemon.vips()}
    assert vips["10.100.1.0/24:80/tcp"]["prefix_len"] == 24
    assert vips["10.100.1.0/24:80/tcp"]["address"] == "10.100.1.0"
    assert vips["[fd00:101::/120]:*/udp"]["prefix_len"] == 120
    assert vips["10.100.0.1:80/tcp"]["prefix_len"] is None
    # The trie keys as bpftool prints them: prefixlen (little-endian), family, proto, port, ...
    keys = sorted(
        (int(e["key"][0], 16), int(e["key"][4], 16), int(e["key"][5], 16))
        for e in daemon.dump("vip_prefixes")
    )
    assert keys == [(32 + 24, 4, 6), (32 + 120, 6, 17)]
    assert len(daemon.dump("vip_addr_pfxs")) == 2
    assert len(daemon.dump("vips")) == 1, "the prefix VIPs stay out of the VIP map"
    assert "10.100.1.0/24:80/tcp" in daemon.cli("vip", "list").stdout
    daemon.cli("vip", "del", "10.100.1.0/24:80/tcp")
    daemon.cli("vip", "del", "[fd00:101::/120]:*/udp")
    assert daemon.dump("vip_prefixes") == [] and daemon.dump("vip_addr_pfxs") == []


@pytest.mark.parametrize(
    "args, message",
    [
        (("vip", "del", "10.9.9.9:80"), "dogfish: unknown VIP 10.9.9.9:80/tcp"),
        (("vip", "add", "10.100.0.1:80"), "dogfish: VIP 10.100.0.1:80/tcp already exists"),
        (
            ("vip", "add", "10.100.0.1"),
            "dogfish: '10.100.0.1' is not ADDRESS:PORT or ADDRESS:PORT/PROTO "
            "(IPv6 as [ADDRESS]:PORT; PORT 1-65535, or * for every port; ADDRESS/LENGTH for a "
            "prefix VIP, as in 10.100.1.0/24:80/tcp)",
        ),
        (
            ("vip", "add", "10.100.1.1/24:80/tcp"),
            "dogfish: VIP 10.100.1.1/24:80/tcp: 10.100.1.1/24 has bits set past the prefix length "
            "(the prefix is 10.100.1.0/24)",
        ),
        (
            ("vip", "edit", "10.100.0.1:80", "--flags", "src_hash_only,no_src_port_hash"),
            "dogfish: VIP 10.100.0.1:80/tcp: src_hash_only and no_src_port_hash each choose "
            "what the ring hashes: give one",
        ),
        (
            ("real", "add", "10.100.0.1:80", "10.0.1.999"),
            "dogfish: '10.0.1.999' is not an IP address",
        ),
        (
            ("real", "add", "10.100.0.1:80", "10.0.1.1"),
            "dogfish: real 10.0.1.1 is already in VIP 10.100.0.1:80/tcp (weight 1; use `real edit`)",
        ),
    ],
)
def test_bad_requests_get_one_line_and_change_nothing(daemon, args, message):
    before = daemon.vips()
    r = daemon.cli(*args, check=False)
    assert r.returncode != 0
    assert r.stderr.splitlines() == [message]
    assert daemon.vips() == before


def test_no_daemon_is_one_line(tmp_path):
    r = run(DOGFISH, "vip", "list", "--socket", str(tmp_path / "none.sock"), check=False)
    assert r.returncode != 0
    assert len(r.stderr.splitlines()) == 1
    assert "is `dogfish run` running?" in r.stderr


def test_bad_reload_keeps_the_old_state(daemon):
    before = daemon.vips()
    good = daemon.config.read_text()
    daemon.config.write_text(good + "  - { address: nope, port: 1, proto: tcp }\n")
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload failed" in daemon.log.read_text(), "the reload error in the log")
    assert "dogfish.yaml:14:" in daemon.log.read_text()
    assert daemon.vips() == before
    assert daemon.xdp_prog() is not None
    r = daemon.cli("reload", check=False)
    assert r.returncode != 0 and "dogfish.yaml:14:" in r.stderr

    daemon.config.write_text(good.replace("weight: 2", "weight: 0"))
    daemon.cli("reload")
    reals = {r["address"]: r["weight"] for r in daemon.vips()[0]["reals"]}
    assert reals == {"10.0.1.1": 1, "10.0.1.2": 0}
    assert "10.0.1.2" in real_addresses(daemon).values()  # drained, not deleted


def test_second_daemon_on_the_socket_touches_nothing(daemon):
    prog = daemon.xdp_prog()
    r = run(*netns.enter(daemon.ns, *daemon.run_argv()), check=False)
    assert r.returncode == 1
    assert f"already answers on {daemon.socket}" in r.stderr
    assert daemon.xdp_prog() == prog
    assert daemon.cli_ok("vip", "list")


def test_sigterm_leaves_the_data_plane_serving_and_teardown_takes_it_down(daemon):
    prog = daemon.xdp_prog()
    assert daemon.stop() == 0
    assert not os.path.exists(daemon.socket)
    assert daemon.xdp_prog() == prog, "SIGTERM took the program off"
    assert os.path.exists(f"{daemon.pin_dir}/conn_table")
    assert "probe_encap" in daemon.egress_filters(), "SIGTERM took the probes' tc program off"
    out = daemon.teardown()
    assert f"took the XDP program 'balancer' (id {prog}" in out
    assert "took the health probes' tc program off" in out
    assert daemon.xdp_prog() is None
    assert "probe_encap" not in daemon.egress_filters()
    assert not os.path.exists(daemon.pin_dir)
    # Again: nothing left to do, and it says so.
    assert "runs no dogfish program" in daemon.teardown()


def test_teardown_refuses_while_a_daemon_answers(daemon):
    r = run(*netns.enter(daemon.ns, *daemon.teardown_argv()), check=False)
    assert r.returncode != 0
    assert f"a dogfish daemon answers on {daemon.socket}: stop it first" in r.stderr
    assert daemon.xdp_prog() is not None and daemon.cli_ok("vip", "list")


def test_teardown_leaves_a_foreign_program(daemon):
    assert daemon.stop() == 0
    daemon.cleanup()  # ours off, pins gone
    foreign = daemon.attach_foreign()
    out = daemon.teardown()
    assert "which is not dogfish's: left as it is" in out
    assert daemon.xdp_prog() == foreign


def test_a_foreign_program_is_refused_unless_replacing_is_asked(daemon):
    assert daemon.stop() == 0
    daemon.cleanup()
    foreign = daemon.attach_foreign()
    r = run(*netns.enter(daemon.ns, *daemon.run_argv()), check=False)
    assert r.returncode == 3
    assert f"{IFACE} already runs the XDP program 'lab_xdp_pass' (id {foreign}" in r.stderr
    assert "--replace-foreign" in r.stderr
    assert daemon.xdp_prog() == foreign
    assert not os.path.exists(daemon.pin_dir), "a refused start left its pins"
    daemon.start("--replace-foreign")
    assert daemon.xdp_prog() not in (None, foreign)
    assert "replacing the XDP program 'lab_xdp_pass'" in daemon.log.read_text()


def test_pinned_restart_keeps_program_and_connections(daemon):
    # Give 10.0.1.1 an id a fresh start would not (3, not 1): the restart must keep it.
    daemon.cli("real", "del", "10.100.0.1:80", "10.0.1.1")
    daemon.cli("real", "add", "10.100.0.1:80", "10.0.1.1")
    assert {r["address"]: r["id"] for r in daemon.vips()[0]["reals"]}["10.0.1.1"] == 3
    # A connection-table entry as the program would write it: flow -> real id 2.
    key = (
        [10, 100, 0, 1]
        + [0] * 12
        + [0, 80, 6, 4]  # VIP 10.100.0.1:80/tcp
        + [192, 0, 2, 7]
        + [0] * 12
        + [0x9C, 0x40, 0, 0]
    )  # client 192.0.2.7:40000
    value = [2] + [0] * 11  # struct df_conn: real id 2, atime 0, hash 0
    run(
        "bpftool",
        "map",
        "update",
        "pinned",
        f"{daemon.pin_dir}/conn_table",
        "key",
        *map(str, key),
        "value",
        *map(str, value),
    )
    vips_before = daemon.vips()

    seen_detached = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            if daemon.xdp_prog() is None:
                seen_detached.append(time.monotonic())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        daemon.stop(signal.SIGKILL)
        assert daemon.xdp_prog() is not None  # still attached with nobody running
        assert os.path.exists(daemon.socket)  # left by the killed one: the next removes it
        daemon.start()
    finally:
        done.set()
        watcher.join()
    assert not seen_detached, "the program was detached during the restart"
    assert "adopted the maps" in daemon.log.read_text()
    conns = formatted(daemon.dump("conn_table"))
    assert any(c["value"]["real_id"] == 2 for c in conns), conns
    # Same ids; the ring was rebuilt into the VIP's other slot and published.
    after = daemon.vips()
    assert [v["ring"] for v in after] == [v["ring"] ^ 1 for v in vips_before]

    def strip(vips):  # the ring slot aside, and reals in address order (the file's order)
        return [
            {
                k: (sorted(x, key=lambda r: r["address"]) if k == "reals" else x)
                for k, x in v.items()
                if k != "ring"
            }
            for v in vips
        ]

    assert strip(after) == strip(vips_before)
    assert "adopted 1 VIPs and 2 reals" in daemon.log.read_text()


# The control socket against bad clients (issue 17): a client can cost the daemon one
# connection slot for a bounded time, never the daemon, nor the other clients.


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_answer(s):
    """Everything the daemon sends until it closes the connection or a line ends."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def ask(path, request, timeout=10):
    with connect(path, timeout) as s:
        s.sendall(json.dumps(request).encode() + b"\n")
        return json.loads(read_answer(s))


def alive(d):
    return d.proc.poll() is None and d.xdp_prog() is not None and ask(d.socket, {"cmd": "stats"})


def test_oversized_request_gets_an_error_and_the_daemon_lives(daemon):
    with connect(daemon.socket) as s:
        try:
            s.sendall(b"x" * (2 << 20))  # no newline, over the cap
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon may stop reading and close before all of it is sent
        answer = json.loads(read_answer(s))
    assert "over" in answer["error"] and "bytes" in answer["error"], answer
    assert alive(daemon)


class Trickler(threading.Thread):
    """A client that sends one byte of a request every 0.2 s and never ends the line."""

    def __init__(self, path):
        super().__init__()
        self.sock = connect(path)
        self.stop = threading.Event()
        self.answer = b""

    def run(self):
        try:
            while not self.stop.wait(0.2):
                self.sock.sendall(b" ")
        except OSError:
            pass  # cut off by the daemon

    def __enter__(self):
        self.sock.sendall(b'{"cmd":')
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join()
        self.sock.close()


def test_a_trickling_client_holds_up_no_other(daemon):
    with Trickler(daemon.socket) as slow:
        answer = ask(daemon.socket, {"cmd": "stats"})
        assert answer.get("ok"), answer
        assert slow.is_alive(), "the answer came only after the trickler gave up"


def test_a_request_not_done_by_its_deadline_is_answered_and_closed(daemon):
    with Trickler(daemon.socket) as slow:
        slow.sock.settimeout(30)
        answer = json.loads(read_answer(slow.sock))
    assert "deadline" in answer["error"], answer
    assert "request not complete within" in daemon.log.read_text()
    assert alive(daemon)


def test_connections_over_the_cap_are_refused_with_an_answer(daemon):
    idle = [connect(daemon.socket) for _ in range(40)]
    try:
        # Those over the cap are answered at once; the others wait for a request (5 s).
        answered = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            answered, _, _ = select.select(idle, [], [], 0.1)
        refused = [json.loads(read_answer(s)) for s in answered]
        assert refused and all("too many connections" in a["error"] for a in refused), refused
        assert len(refused) < len(idle)
    finally:
        for s in idle:
            s.close()
    wait_for(lambda: ask(daemon.socket, {"cmd": "stats"}).get("ok"), "the daemon to answer")


def test_a_signal_is_handled_while_a_client_stalls(daemon):
    daemon.config.write_text(daemon.config.read_text().replace("weight: 2", "weight: 3"))
    with Trickler(daemon.socket) as slow:
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in daemon.log.read_text(), "the reload in the log")
        assert slow.is_alive(), "the signal waited for the stalled client"


def test_refused_requests_are_logged_escaped_and_truncated(daemon):
    with connect(daemon.socket) as s:
        # Under the size cap: the controller refuses it, and the daemon logs what it refused.
        s.sendall(b"\x1b[2J\x1b]0;owned\x07" + b"y" * 50000 + b"\n")
        assert "error" in json.loads(read_answer(s))
    log = daemon.log.read_bytes()
    refused = [line for line in log.splitlines() if b" refused: " in line]
    assert refused, log[-2000:]
    assert all(len(line) < 1000 for line in refused), [len(line) for line in refused]
    assert b"\x1b" not in log and b"\x07" not in log
    assert b"\\x1b[2J" in refused[-1]


def test_socket_path_that_is_not_a_socket_is_not_replaced(ns, tmp_path):
    d = Daemon(ns, tmp_path)
    with open(d.socket, "w") as f:
        f.write("precious\n")
    try:
        r = run(*netns.enter(ns, *d.run_argv()), check=False)
        assert r.returncode == 1
        assert f"{d.socket} exists and is not a socket" in r.stderr, r.stderr
        with open(d.socket) as f:
            assert f.read() == "precious\n"
        assert d.xdp_prog() is None
    finally:
        d.cleanup()


def test_a_live_socket_of_another_program_is_not_replaced(ns, tmp_path):
    d = Daemon(ns, tmp_path)
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(d.socket)
    other.listen(1)
    try:
        r = run(*netns.enter(ns, *d.run_argv()), check=False)
        assert r.returncode == 1
        assert f"already answers on {d.socket}" in r.stderr, r.stderr
        assert os.path.exists(d.socket)
    finally:
        other.close()
        d.cleanup()
