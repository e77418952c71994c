"""dogfish-decap end to end: an encapsulated SYN to a VIP on the receiver's
loopback is decapsulated (XDP or tc) and answered by a SYN-ACK from the VIP.

Two namespaces made here (unique names, removed even on failure), joined by a
veth pair; scapy sends from one, a listening socket waits in the other.
Run by /usr/bin/python3 -m pytest; DOGFISH_DECAP names the binary.
"""
import json
import os
import platform
import re
import shutil
import subprocess

import pytest

from testlib import leftovers, netns, paths
from testlib.netns import run_in as in_ns

HERE = os.path.dirname(os.path.abspath(__file__))
DECAP = paths.binary("DOGFISH_DECAP", "decap/dogfish-decap")
ENCAP_OBJ = os.environ.get("DOGFISH_TEST_ENCAP", "")
PORT = 8080
SENDER = {"v4": "10.77.0.1", "v6": "fd77::1"}
RECEIVER = {"v4": "10.77.0.2", "v6": "fd77::2"}
VIP = {"v4": "10.99.0.1", "v6": "fd99::1"}
# The sender stands for the balancers: its prefixes are the outer sources allowed.
BALANCERS = ["--from", "10.77.0.0/24", "--from", "fd77::/64"]
STRANGER = {"v4": "10.66.0.1", "v6": "fd66::1"}


@pytest.fixture(scope="session", autouse=True)
def bpffs_left_as_found():
    """iproute2's folders in bpffs and dogfish-decap's pin root: removed if this run made them."""
    with leftovers.bpffs_left_as_found():
        yield


MODES = ["xdp", "xdp-generic", "tc"]
MODE_SAYS = {"xdp": "xdp (native)", "xdp-generic": "xdp (generic)", "tc": "tc (clsact ingress)"}


def kernel_before(major, minor):
    release = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", platform.release()).groups())
    return release < (major, minor)


def attach(pair, *args):
    """dogfish-decap attach on the receiver's vr with `args`, from the sender's prefixes."""
    return in_ns(pair["receiver"], DECAP, "attach", "--iface", "vr", *args, *BALANCERS)


def attach_both(pair, mode, *extra, check=True):
    """dogfish-decap attach on the receiver in that mode, for both of its addresses, from the
    sender's prefixes."""
    return in_ns(
        pair["receiver"],
        DECAP,
        "attach",
        "--iface",
        "vr",
        *mode_args(mode),
        "--addr",
        RECEIVER["v4"],
        "--addr",
        RECEIVER["v6"],
        *BALANCERS,
        *extra,
        check=check,
    )


def mode_args(mode):
    return {
        "xdp": ["--mode", "xdp", "--xdp-mode", "native"],
        "xdp-generic": ["--mode", "xdp", "--xdp-mode", "generic"],
        "tc": ["--mode", "tc"],
    }[mode]


@pytest.fixture
def pair():
    netns.require_root()
    if not shutil.which(DECAP) and not os.path.exists(DECAP):
        pytest.skip(f"{DECAP} not built")
    sender, receiver = netns.unique("dfdecap-s"), netns.unique("dfdecap-r")
    listener = None
    with netns.made(sender, receiver):
        try:
            netns.veth((sender, "vs"), (receiver, "vr"))
            for ns, dev, addrs in ((sender, "vs", SENDER), (receiver, "vr", RECEIVER)):
                in_ns(ns, "ip", "addr", "add", f"{addrs['v4']}/24", "dev", dev)
                in_ns(ns, "ip", "addr", "add", f"{addrs['v6']}/64", "dev", dev, "nodad")
                in_ns(ns, "ip", "link", "set", dev, "up")
                in_ns(ns, "ip", "link", "set", "lo", "up")
            in_ns(receiver, "ip", "addr", "add", f"{VIP['v4']}/32", "dev", "lo")
            in_ns(receiver, "ip", "addr", "add", f"{VIP['v6']}/128", "dev", "lo", "nodad")
            for key in ("all", "default", "vr"):
                in_ns(receiver, "sysctl", "-qw", f"net.ipv4.conf.{key}.rp_filter=0")
            # An echo server listening on both VIPs; it prints "ready" once listening.
            listener = subprocess.Popen(
                netns.enter(
                    receiver,
                    paths.PYTHON,
                    os.path.join(HERE, "netns_server.py"),
                    str(PORT),
                    VIP["v4"],
                    VIP["v6"],
                ),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert listener.stdout.readline().strip() == "ready"
            mac = json.loads(in_ns(receiver, "ip", "-j", "link", "show", "vr").stdout)[0]["address"]
            yield {"sender": sender, "receiver": receiver, "mac": mac}
        finally:
            if listener:
                listener.kill()
                listener.wait()
            in_ns(receiver, DECAP, "detach", "--iface", "vr", check=False)
            # Whatever detach left: the pins live under the namespace's inode.
            if (ino := netns.inode(receiver)) is not None:
                shutil.rmtree(leftovers.decap_pin_dir(ino), ignore_errors=True)


def send(pair, encap, outer, inner, *timeout):
    """netns_send.py from the sender: an encapsulated SYN to the VIP; the CompletedProcess.
    outer: (source, destination) of the outer header; inner: the client's family."""
    return in_ns(
        pair["sender"],
        paths.PYTHON,
        os.path.join(HERE, "netns_send.py"),
        "vs",
        pair["mac"],
        encap,
        *outer,
        SENDER[inner],
        VIP[inner],
        PORT,
        *timeout,
        check=False,
    )


# GUE through generic XDP is the same program as native: the time goes to the others.
@pytest.mark.parametrize(
    "mode,encap",
    [(m, e) for m in MODES for e in ("4in4", "6in6", "4in6")]
    + [(m, e) for m in ("xdp", "tc") for e in ("gue_4in4", "gue_6in6", "gue_4in6")],
)
def test_syn_to_vip_gets_synack_from_vip(pair, mode, encap):
    kind = encap.removeprefix("gue_")
    if mode == "tc" and kind == "4in6" and kernel_before(6, 3):
        pytest.skip(
            f"tc strips 4in6 with bpf_skb_adjust_room's DECAP_L3 flag: kernel 6.3 or later, "
            f"this one is {platform.release()}"
        )
    r = attach_both(pair, mode, check=False)
    assert r.returncode == 0, r.stderr
    assert "GUE on UDP port 6080" in r.stdout, r.stdout
    outer = "v4" if kind == "4in4" else "v6"
    inner = "v6" if kind == "6in6" else "v4"
    sent = send(pair, encap, (SENDER[outer], RECEIVER[outer]), inner)
    stats = json.loads(in_ns(pair["receiver"], DECAP, "stats", "--iface", "vr", "--json").stdout)
    assert sent.returncode == 0, f"{sent.stderr}\nreceiver's decap stats: {stats}"
    src, sport = sent.stdout.split()
    assert (src, int(sport)) == (VIP[inner], PORT)
    reasons = stats["interfaces"][0]["reasons"]
    assert r.stdout.split(" on ")[0].endswith(MODE_SAYS[mode]), r.stdout
    assert stats["interfaces"][0]["mode"] == mode.split("-")[0]
    assert reasons[f"decap_{encap}"] >= 1


def test_encap_to_other_address_is_not_stripped(pair):
    """Addressed to a destination the receiver does not decap for: passed, not answered."""
    attach(pair, "--addr", "10.77.0.200")
    sent = send(pair, "4in4", (SENDER["v4"], RECEIVER["v4"]), "v4", 2)
    assert sent.returncode == 1, sent.stdout
    stats = json.loads(in_ns(pair["receiver"], DECAP, "stats", "--iface", "vr", "--json").stdout)
    assert stats["interfaces"][0]["reasons"]["pass_not_ours"] >= 1
    assert stats["interfaces"][0]["reasons"]["decap_4in4"] == 0


@pytest.mark.parametrize("encap", ["4in4", "6in6", "4in6", "gue_6in6"])
@pytest.mark.parametrize("mode", ["xdp", "tc"])
def test_a_stranger_cannot_tunnel_to_the_vip(pair, mode, encap):
    """The same SYN, from an outer source no balancer uses: dropped and counted, not answered."""
    attach_both(pair, mode)
    kind = encap.removeprefix("gue_")
    outer = "v4" if kind == "4in4" else "v6"
    inner = "v6" if kind == "6in6" else "v4"
    sent = send(pair, encap, (STRANGER[outer], RECEIVER[outer]), inner, 2)
    assert sent.returncode == 1, f"answered: {sent.stdout}"
    st = json.loads(in_ns(pair["receiver"], DECAP, "stats", "--iface", "vr", "--json").stdout)
    reasons = st["interfaces"][0]["reasons"]
    assert reasons["drop_source"] >= 1 and reasons[f"decap_{encap}"] == 0, reasons
    assert st["interfaces"][0]["sources"] == ["10.77.0.0/24", "fd77::/64"]


def test_only_the_allowed_inner_destinations_are_stripped(pair):
    attach_both(pair, "xdp", "--inner-dst", "10.99.0.77")
    sent = send(pair, "4in4", (SENDER["v4"], RECEIVER["v4"]), "v4", 2)
    assert sent.returncode == 1, f"answered: {sent.stdout}"
    st = json.loads(in_ns(pair["receiver"], DECAP, "stats", "--iface", "vr", "--json").stdout)
    assert st["interfaces"][0]["reasons"]["drop_inner_dst"] >= 1
    assert st["interfaces"][0]["inner_dsts"] == ["10.99.0.77"]
    text = in_ns(pair["receiver"], DECAP, "stats", "--iface", "vr").stdout
    assert "from 10.77.0.0/24, fd77::/64, inner destination 10.99.0.77" in text, text
    # The VIP allowed: answered.
    attach_both(pair, "xdp", "--inner-dst", VIP["v4"])
    assert send(pair, "4in4", (SENDER["v4"], RECEIVER["v4"]), "v4").returncode == 0


def test_gue_port_0_leaves_gue_to_the_stack(pair):
    r = attach_both(pair, "xdp", "--gue-port", "0")
    assert "no GUE" in r.stdout, r.stdout
    sent = send(pair, "gue_4in4", (SENDER["v4"], RECEIVER["v4"]), "v4", 2)
    assert sent.returncode == 1, f"answered: {sent.stdout}"
    st = json.loads(in_ns(pair["receiver"], DECAP, "stats", "--iface", "vr", "--json").stdout)
    reasons = st["interfaces"][0]["reasons"]
    assert reasons["pass_not_encap"] >= 1 and reasons["decap_gue_4in4"] == 0, reasons
    assert st["interfaces"][0]["gue_port"] == 0


def test_attach_over_pins_of_an_older_layout(pair):
    """An older dogfish-decap left its maps pinned (here its counters, with fewer reasons than
    this build counts): attach replaces what it cannot reuse, and the new program counts."""
    attach_both(pair, "xdp")
    stats_pin = os.path.join(
        leftovers.decap_pin_dir(netns.inode(pair["receiver"])), "vr", "decap_stats"
    )
    os.unlink(stats_pin)
    subprocess.run(
        [
            "bpftool",
            "map",
            "create",
            stats_pin,
            "type",
            "percpu_array",
            "key",
            "4",
            "value",
            "8",
            "entries",
            "1",
            "name",
            "decap_stats",
        ],
        check=True,
    )
    r = attach_both(pair, "xdp", check=False)
    assert r.returncode == 0, r.stderr
    assert "decap_stats" in r.stderr and "another layout" in r.stderr, r.stderr
    assert send(pair, "gue_4in4", (SENDER["v4"], RECEIVER["v4"]), "v4").returncode == 0
    st = json.loads(in_ns(pair["receiver"], DECAP, "stats", "--iface", "vr", "--json").stdout)
    assert st["interfaces"][0]["reasons"]["decap_gue_4in4"] >= 1


def test_detach_of_nothing_says_so(pair):
    r = in_ns(pair["receiver"], DECAP, "detach", "--iface", "vr", check=False)
    assert r.returncode != 0
    assert "nothing to detach" in r.stderr


@pytest.mark.skipif(not kernel_before(6, 3), reason="kernel 6.3 or later: tc strips 4in6 too")
def test_tc_before_kernel_6_3_says_it_drops_4in6_and_counts_it(pair):
    r = attach(pair, "--mode", "tc", "--addr", RECEIVER["v6"])
    assert "in tc mode IPv4-in-IPv6 is dropped (drop_adjust)" in r.stderr, r.stderr
    send(pair, "4in6", (SENDER["v6"], RECEIVER["v6"]), "v4", 0.5)
    reasons = json.loads(in_ns(pair["receiver"], DECAP, "stats", "--json").stdout)["interfaces"][0][
        "reasons"
    ]
    assert reasons["drop_adjust"] >= 1 and reasons["decap_4in6"] == 0, reasons


@pytest.mark.parametrize(
    "args, named",
    [
        (["attach", "--iface", "vr", "--addr", "10.0.0.300", *BALANCERS], "'10.0.0.300'"),
        (["attach", "--iface", "vr", "--addr", "10.0.0.2"], "--from"),
        (
            ["attach", "--iface", "vr", "--addr", "10.0.0.2", "--from", "10.77.0.1/24"],
            "'10.77.0.1/24'",
        ),
        (["attach", "--iface", "vr", "--addr", "10.0.0.2", "--from", "nope"], "'nope'"),
        (
            ["attach", "--iface", "vr", "--addr", "10.0.0.2", *BALANCERS, "--inner-dst", "x"],
            "'x'",
        ),
        (["attach", "--iface", "nosuchdev", "--addr", "10.0.0.2", *BALANCERS], "'nosuchdev'"),
        (["attach", "--iface", "vr"], "--addr"),
        (["detach", "--iface", "nosuchdev"], "'nosuchdev'"),
    ],
)
def test_errors_are_one_line_naming_the_value(pair, args, named):
    r = in_ns(pair["receiver"], DECAP, *args, check=False)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], r.stderr


def test_attach_twice_updates_addresses_and_keeps_counters(pair):
    attach(pair, "--mode", "tc", "--addr", "10.0.0.1")
    send(pair, "4in4", (SENDER["v4"], "10.0.0.1"), "v4", 0.5)
    before = json.loads(in_ns(pair["receiver"], DECAP, "stats", "--json").stdout)["interfaces"][0]
    assert before["reasons"]["decap_4in4"] >= 1 and before["mode"] == "tc"
    r = attach(pair, "--addr", RECEIVER["v6"])
    assert "replaced" in r.stdout
    after = json.loads(in_ns(pair["receiver"], DECAP, "stats", "--json").stdout)["interfaces"][0]
    assert after["mode"] == "xdp" and after["addrs"] == [RECEIVER["v6"]]
    assert after["reasons"]["decap_4in4"] == before["reasons"]["decap_4in4"]
    tc = in_ns(pair["receiver"], "tc", "filter", "show", "dev", "vr", "ingress").stdout
    assert "tc_decap" not in tc


def wrap_client_traffic(pair, mode):
    """Decap on the receiver; on the client, test_encap.bpf.o wraps traffic to the VIPs."""
    if not os.path.exists(ENCAP_OBJ):
        pytest.skip("DOGFISH_TEST_ENCAP (test_encap.bpf.o) not built")
    attach_both(pair, mode)
    in_ns(pair["sender"], "tc", "qdisc", "add", "dev", "vs", "clsact")
    in_ns(
        pair["sender"],
        "tc",
        "filter",
        "add",
        "dev",
        "vs",
        "egress",
        "bpf",
        "da",
        "obj",
        ENCAP_OBJ,
        "sec",
        "tc",
    )


def talk(pair, family, send_code):
    """Connects from the client to the VIP with a real socket, runs send_code (c is the
    socket), returns the server's answer and the receiver's decap reasons."""
    client = (
        "import socket\n"
        f"c=socket.create_connection(('{VIP[family]}',{PORT}),timeout=10)\n"
        + send_code
        + "print(c.recv(100).decode())\n"
    )
    out = in_ns(pair["sender"], paths.PYTHON, "-c", client, check=False)
    stats = json.loads(in_ns(pair["receiver"], DECAP, "stats", "--json").stdout)
    reasons = stats["interfaces"][0]["reasons"]
    assert out.returncode == 0, f"{out.stderr}\nreceiver's decap stats: {reasons}"
    return out.stdout.strip(), reasons


@pytest.mark.parametrize("family", ["v4", "v6"])
@pytest.mark.parametrize("mode", MODES)
def test_real_sockets_through_decap(pair, mode, family):
    """A real TCP connection (kernel checksums and offloads, not scapy's) to the VIP: the
    client's tc egress wraps it as the balancer would, decap unwraps it, the reply is direct."""
    wrap_client_traffic(pair, mode)
    in_ns(pair["sender"], "ip", "route", "add", VIP[family], "via", RECEIVER[family], "dev", "vs")
    reply, stats = talk(pair, family, "c.sendall(b'hello')\n")
    assert reply == "echo:hello"
    assert stats["decap_4in4" if family == "v4" else "decap_6in6"] >= 3  # SYN, ACK, data


@pytest.mark.parametrize("family", ["v4", "v6"])
@pytest.mark.parametrize("mode", MODES)
def test_bulk_transfer_with_gro_through_decap(pair, mode, family):
    """4 MB through decap with GRO on at the receiver. In tc mode on veth the receiver gets
    the client's GSO super-packets (tens of KB, tunnel GSO types set by the encapsulator) and
    decap must strip them whole; in XDP mode veth segments them first."""
    s, r = pair["sender"], pair["receiver"]
    in_ns(r, "ethtool", "-K", "vr", "gro", "on", check=False)
    wrap_client_traffic(pair, mode)
    # Room for the outer header on the wire (the lab uses MTU 1540 or an advmss instead).
    for ns, dev in ((s, "vs"), (r, "vr")):
        in_ns(ns, "ip", "link", "set", dev, "mtu", "1600")
    in_ns(s, "ip", "route", "add", VIP[family], "via", RECEIVER[family], "dev", "vs", "mtu", "1500")
    size = 4 << 20
    reply, _ = talk(
        pair, family, f"c.sendall(b'bulk'+bytes({size}-4))\n" "c.shutdown(socket.SHUT_WR)\n"
    )
    assert reply == str(size)
