"""Asks VIPs N times each, every time from a new socket (a new flow), and prints
which real answered how often, as JSON: {"tcp 10.100.0.1:80": {"real1": 7, ...}}.
Run inside the client's namespace: dogfish-lab exec client -- python3 ask_vips.py ..."""
import json
import socket
import sys


def connected(host, port, kind):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind)
    s.settimeout(3)
    s.connect((host, port))
    return s


def ask_tcp(host, port):
    with connected(host, port, socket.SOCK_STREAM) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: lab\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    head, _, body = data.decode().partition("\r\n\r\n")
    if " 200 " not in head.split("\r\n")[0]:
        raise RuntimeError(f"answered {head!r}")
    return body.strip()


def ask_udp(host, port):
    with connected(host, port, socket.SOCK_DGRAM) as s:
        s.send(b"lab\n")
        return s.recv(4096).decode().strip()


def main():
    count = int(sys.argv[1])
    result = {}
    for spec in sys.argv[2:]:  # "tcp:10.100.0.1:80", "udp:fd00:100::1:53"
        proto, rest = spec.split(":", 1)
        host, port = rest.rsplit(":", 1)
        ask = ask_tcp if proto == "tcp" else ask_udp
        seen = result.setdefault(f"{proto} {host}:{port}", {})
        for _ in range(count):
            real = ask(host, int(port))
            seen[real] = seen.get(real, 0) + 1
    print(json.dumps(result))


if __name__ == "__main__":
    main()
