"""A TCP echo server on each given address and one port, for the netns test.

  netns_server.py PORT ADDR...
Prints "ready" once every socket listens; answers each connection's first
read with b"echo:" + the data, or, when that read starts with b"bulk", reads to the end
of the stream and answers with the number of bytes it got; runs until stdin closes.
"""
import socket
import sys
import threading


def serve(sock):
    while True:
        conn, _ = sock.accept()
        with conn:
            data = conn.recv(4096)
            if data.startswith(b"bulk"):
                total = len(data)
                while chunk := conn.recv(1 << 16):
                    total += len(chunk)
                conn.sendall(str(total).encode())
            else:
                conn.sendall(b"echo:" + data)


def main():
    port, addrs = int(sys.argv[1]), sys.argv[2:]
    for addr in addrs:
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((addr, port))
        sock.listen()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
