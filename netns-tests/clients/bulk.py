"""Bulk TCP transfers, full-size segments both ways, for the path-MTU checks.

    bulk.py serve --port 8000        on a real: serves until stdin closes; prints
                                     {"ready": PORT} once it listens (IPv4 and IPv6)
    bulk.py get HOST:PORT --bytes N  on the client: downloads N bytes
    bulk.py put HOST:PORT --bytes N  on the client: uploads N bytes, until the server
                                     confirms it has them all

get and put print {"bytes": B, "complete": bool, "seconds": S, "error": str or null}. A
transfer that moves nothing for --stall seconds stops there: a stall is a result, not a
crash, so they exit 0 and the test judges."""
import argparse
import json
import socket
import socketserver
import sys
import threading
import time

from http_client import parse_target

CHUNK = 65536


class Handler(socketserver.StreamRequestHandler):
    """One line, "GET N" or "PUT N"; then N bytes go the asked way."""

    def handle(self):
        verb, count = self.rfile.readline().decode().split()
        count = int(count)
        if verb == "GET":
            block = bytes(range(256)) * (CHUNK // 256)
            left = count
            while left:
                n = min(left, CHUNK)
                self.wfile.write(block[:n])
                left -= n
        elif verb == "PUT":
            got = 0
            while got < count:
                data = self.rfile.read1(min(CHUNK, count - got))
                if not data:
                    return
                got += len(data)
            self.wfile.write(f"OK {got}\n".encode())


class Server(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 too, mapped
        super().server_bind()


def serve(port):
    with Server(("::", port), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(json.dumps({"ready": port}), flush=True)
        sys.stdin.read()  # until the test closes our stdin (or kills us)
        server.shutdown()


def transfer(target, verb, count, stall):
    host, port = parse_target(target)
    done, error = 0, None
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=stall) as sock:
            sock.sendall(f"{verb} {count}\n".encode())
            if verb == "GET":
                while done < count:
                    data = sock.recv(CHUNK)
                    if not data:
                        error = "closed early"
                        break
                    done += len(data)
            else:
                block = b"u" * CHUNK
                sent = 0
                while sent < count:
                    sent += sock.send(block[: min(CHUNK, count - sent)])
                answer = sock.makefile().readline().split()
                done = int(answer[1]) if answer[:1] == ["OK"] else 0
    except socket.timeout:
        error = f"nothing moved for {stall} s"
    except OSError as e:
        error = f"{type(e).__name__}: {e}"
    return {
        "bytes": done,
        "complete": done == count and error is None,
        "seconds": time.monotonic() - t0,
        "error": error,
    }


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    for verb in ("get", "put"):
        c = sub.add_parser(verb)
        c.add_argument("target", help="HOST:PORT, IPv6 as [ADDR]:PORT")
        c.add_argument("--bytes", type=int, required=True)
        c.add_argument("--stall", type=float, default=8.0, help="seconds without progress")
    args = ap.parse_args()
    if args.cmd == "serve":
        serve(args.port)
    else:
        print(json.dumps(transfer(args.target, args.cmd.upper(), args.bytes, args.stall)))


if __name__ == "__main__":
    main()
