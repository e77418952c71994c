"""A small HTTP/1.x client over one TCP socket for dogfish-responder (GET / answers the
real's name), shared by the traffic clients."""
import socket


def parse_target(text):
    """'10.100.0.1:80' or '[fd00:100::1]:80' -> (host, port)."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class Http:
    def __init__(self, host, port, timeout=3.0, tos=0):
        v6 = ":" in host
        self.sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if tos:
            if v6:
                self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
            else:
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
        try:
            self.sock.connect((host, port))
        except OSError:
            self.sock.close()
            raise
        self.local_port = self.sock.getsockname()[1]
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def get(self, keep_alive=False, pad=0):
        """One GET /; returns the body (the real's name). Raises on anything but a 200."""
        head = (
            "GET / HTTP/1.1\r\nHost: lab\r\n" if keep_alive else "GET / HTTP/1.0\r\nHost: lab\r\n"
        )
        if keep_alive:
            head += "Connection: keep-alive\r\n"
        if pad:
            head += f"X-Pad: {'p' * pad}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        header, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = header.decode().split("\r\n")
        if " 200 " not in lines[0]:
            raise RuntimeError(f"answered {lines[0]!r}")
        length = next(
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        )
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return body.decode().strip()

    def wait_closed(self):
        """After an HTTP/1.0 answer the server closes first (and keeps the TIME_WAIT): wait for it."""
        while self.sock.recv(65536):
            pass

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionAbortedError("closed by the server")
        self.buf += chunk
