"""The responder answers HTTP on TCP and datagrams on UDP with its name, over IPv4 and IPv6."""
import subprocess

import pytest

from testlib import netns, paths
from testlib.command import run

RESPONDER = paths.binary("DOGFISH_RESPONDER", "lab/dogfish-responder")


@pytest.fixture
def responder():
    # A private network namespace: the ports are free and nothing is left behind.
    proc = subprocess.Popen(
        [
            "unshare",
            "-n",
            "sh",
            "-c",
            f"ip link set lo up && exec {RESPONDER} --name real-7 "
            "--tcp 8080 --tcp 8081 --udp 5353",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "dogfish-responder real-7 ready"
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def in_ns(proc, code):
    """Runs python code inside the responder's network namespace; returns its stdout."""
    return netns.run_in(f"/proc/{proc.pid}/ns/net", paths.PYTHON, "-c", code, timeout=10).stdout


@pytest.mark.parametrize("host,family", [("127.0.0.1", "AF_INET"), ("::1", "AF_INET6")])
@pytest.mark.parametrize("port", [8080, 8081])
def test_http_get_answers_200_with_the_name(responder, host, family, port):
    out = in_ns(
        responder,
        f"""
import socket
s = socket.create_connection(("{host}", {port}), timeout=3)
s.sendall(b"GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
data = b""
while chunk := s.recv(4096):
    data += chunk
print(data.decode().replace("\\r\\n", "|"), end="")
""",
    )
    assert out.startswith("HTTP/1.0 200 OK|")
    assert out.endswith("||real-7\n")


def test_keep_alive_serves_many_requests_on_one_connection(responder):
    out = in_ns(
        responder,
        """
import socket
s = socket.create_connection(("127.0.0.1", 8080), timeout=3)
for _ in range(3):
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: keep-alive\\r\\n\\r\\n")
    print(s.recv(4096).decode().split("\\r\\n\\r\\n")[1], end="")
""",
    )
    assert out == "real-7\n" * 3


@pytest.mark.parametrize("host,family", [("127.0.0.1", "AF_INET"), ("::1", "AF_INET6")])
def test_udp_datagram_gets_the_name(responder, host, family):
    out = in_ns(
        responder,
        f"""
import socket
s = socket.socket(socket.{family}, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"who", ("{host}", 5353))
data, peer = s.recvfrom(100)
print(data.decode(), end="")
print(peer[0])
""",
    )
    assert out == f"real-7\n{host}\n"


def test_no_port_is_an_error():
    r = run([RESPONDER, "--name", "x"], check=False)
    assert r.returncode == 2
    assert "--tcp or --udp" in r.stderr


def test_busy_port_is_named(responder):
    r = netns.run_in(
        f"/proc/{responder.pid}/ns/net",
        RESPONDER,
        "--name",
        "b",
        "--tcp",
        "8080",
        check=False,
        timeout=10,
    )
    assert r.returncode == 1
    assert "tcp port 8080" in r.stderr
