"""A steady UDP stream through a VIP: COUNT flows per target, each its own socket (its own
source port), each sending one request every INTERVAL seconds, until told to stop or for at
most --duration seconds. Answers are counted per flow as they come; none is waited for.

Controlled over stdin like talker.py; each answer is one JSON line on stdout:
  (at start, once every flow has its first answer)  {"ready": true, ...report}
  report  ->  {"flows": [{"target", "port", "sent", "answered", "reals": {real: n},
               "longest_silence", "last_answer", "wrong_source"}, ...]}
  stop    ->  the last report (also after --duration), once every request sent has had its
              answer or --drain seconds have passed: sent - answered is the loss, nothing in flight
"longest_silence" is the longest time between two answers of a flow (seconds): the gap its
path change made; "last_answer" is time.monotonic() at its last answer (one clock for every
namespace of the host). An answer must come from the VIP itself (DSR)."""
import argparse
import ipaddress
import json
import selectors
import socket
import sys
import threading
import time

from http_client import parse_target


class Flow:
    def __init__(self, target):
        self.target = target
        self.host, self.port = parse_target(target)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.connect((self.host, self.port))  # only the VIP's answers reach the socket
        self.local_port = self.sock.getsockname()[1]
        self.sent = self.answered = 0
        self.reals = {}
        self.wrong_source = []
        self.last_answer = None
        self.longest_silence = 0.0

    def send(self):
        try:
            self.sock.send(f"request {self.sent}\n".encode())
        except OSError:  # no route for a moment: the stream goes on, the loss counts
            pass
        self.sent += 1

    def receive(self):
        try:
            data, peer = self.sock.recvfrom(4096)
        except (BlockingIOError, ConnectionRefusedError):
            return
        now = time.monotonic()
        if ipaddress.ip_address(peer[0]) != ipaddress.ip_address(self.host) or peer[1] != self.port:
            self.wrong_source.append(f"{peer[0]}:{peer[1]}")
        real = data.decode().strip()
        self.reals[real] = self.reals.get(real, 0) + 1
        if self.last_answer is not None:
            self.longest_silence = max(self.longest_silence, now - self.last_answer)
        self.last_answer = now
        self.answered += 1

    def report(self):
        return {
            "target": self.target,
            "port": self.local_port,
            "sent": self.sent,
            "answered": self.answered,
            "reals": self.reals,
            "longest_silence": round(self.longest_silence, 3),
            "last_answer": self.last_answer,
            "wrong_source": self.wrong_source,
        }


class Stream:
    def __init__(self, flows, interval, drain):
        self.flows, self.interval, self.drain = flows, interval, drain
        self.lock = threading.Lock()
        self.selector = selectors.DefaultSelector()
        for f in flows:
            self.selector.register(f.sock, selectors.EVENT_READ, f)

    def run(self, stop, ready):
        tick = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if now >= tick:
                with self.lock:
                    for f in self.flows:
                        f.send()
                tick += self.interval
            for key, _ in self.selector.select(timeout=max(0.0, tick - time.monotonic())):
                with self.lock:
                    key.data.receive()
            if not ready.is_set() and all(f.answered for f in self.flows):
                ready.set()
        deadline = time.monotonic() + self.drain
        while any(f.answered < f.sent for f in self.flows) and time.monotonic() < deadline:
            for key, _ in self.selector.select(timeout=max(0.0, deadline - time.monotonic())):
                with self.lock:
                    key.data.receive()

    def report(self, **extra):
        with self.lock:
            print(json.dumps({**extra, "flows": [f.report() for f in self.flows]}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("targets", nargs="+", help="HOST:PORT=COUNT, IPv6 as [ADDR]:PORT=COUNT")
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--duration", type=float, default=120.0, help="stop by itself after this")
    ap.add_argument(
        "--drain", type=float, default=1.0, help="at stop, wait this long for answers in flight"
    )
    args = ap.parse_args()
    flows = []
    for spec in args.targets:
        target, _, count = spec.rpartition("=")
        flows += [Flow(target) for _ in range(int(count))]
    stream = Stream(flows, args.interval, args.drain)
    stop, ready = threading.Event(), threading.Event()
    runner = threading.Thread(target=stream.run, args=(stop, ready))
    runner.start()
    timer = threading.Timer(args.duration, stop.set)
    timer.start()
    ready.wait(timeout=args.duration)
    stream.report(ready=ready.is_set())

    def commands():
        for line in sys.stdin:
            if line.strip() == "report":
                stream.report()
            elif line.strip() == "stop":
                break
        stop.set()

    threading.Thread(target=commands, daemon=True).start()
    runner.join()
    timer.cancel()
    stream.report(stopped=True)


if __name__ == "__main__":
    main()
