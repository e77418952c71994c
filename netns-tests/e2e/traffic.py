"""Driving the traffic clients (../clients) from the tests."""
import json
import queue
import subprocess
import threading
from collections import Counter

from e2e.lab import CLIENTS
from testlib.command import wait_for
from testlib.paths import PYTHON


class LineClient:
    """A client script in a node, talked to in lines: commands on its stdin, JSON lines back."""

    def __init__(self, lab, script, *args, node=None, watch=None):
        self.name = script
        self.proc = lab.popen(
            node or lab.client,
            PYTHON,
            CLIENTS / script,
            *args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if watch:
            watch.note_pid(self.proc.pid)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def answer(self, timeout=15):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.name} gave no answer in {timeout} s") from None
        if line is None:
            self.proc.wait(timeout=5)
            raise AssertionError(
                f"{self.name} exited {self.proc.returncode}: {self.proc.stderr.read()}"
            )
        return json.loads(line)

    def send(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def wait(self, timeout=30):
        self.proc.stdin.close()
        self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def report(self):
        self.send("report")
        return self.answer()

    def stop(self):
        """The last report (udp_stream.py's once the answers in flight have come)."""
        self.send("stop")
        final = self.answer(timeout=30)
        self.wait()
        return final


class Talker(LineClient):
    """clients/talker.py: long-lived connections that keep talking, asked for reports."""

    def __init__(self, lab, targets, *, interval=0.1, timeout=3.0, churn=False, watch=None):
        args = [*targets, "--interval", interval, "--timeout", timeout]
        args += ["--churn"] if churn else []
        super().__init__(lab, "talker.py", *args, watch=watch)
        self.ready = self.answer(timeout=30)

    def wait_exchanges(self, more, baseline, timeout=20):
        """Waits until every connection still open has talked `more` times since `baseline`
        (a report): traffic has crossed the change being tested. Returns the last report."""
        before = {(c["target"], c["port"]): c["exchanges"] for c in baseline["conns"]}
        last = {}

        def talked():
            last["r"] = self.report()
            return all(
                c["exchanges"] >= before[(c["target"], c["port"])] + more
                for c in last["r"]["conns"]
                if c["state"] == "open"
            )

        wait_for(
            talked,
            f"every open connection to talk {more} more times",
            timeout=timeout,
            interval=0.05,
        )
        return last["r"]


def broken(report):
    """The connections of a talker report that are no longer open, by state."""
    return Counter(c["state"] for c in report["conns"] if c["state"] != "open")


def shares(flows):
    """{real: number of flows} of tcp_flows' [[port, real], ...]."""
    return Counter(real for _port, real in flows)


def conn_key(conn):
    """(IP version, client port) of one of the Talker's connections: what port_keys() matches."""
    return (6 if conn["target"].startswith("[") else 4, conn["port"])


class UdpStream(LineClient):
    """clients/udp_stream.py: UDP flows that each send a request every `interval` seconds."""

    def __init__(self, lab, targets, *, interval=0.05, duration=120, watch=None):
        args = [*targets, "--interval", interval, "--duration", duration]
        super().__init__(lab, "udp_stream.py", *args, watch=watch)
        self.ready = self.answer(timeout=30)
        assert self.ready["ready"], f"UDP flows without a first answer: {self.ready}"

    def answered_since(self, t, timeout=30):
        """Waits until every flow has had an answer after time.monotonic() `t`; the report."""
        last = {}

        def answered():
            last["r"] = self.report()
            return all(f["last_answer"] > t for f in last["r"]["flows"])

        wait_for(answered, "an answer on every UDP flow", timeout=timeout, interval=0.05)
        return last["r"]
