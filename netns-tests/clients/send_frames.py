"""Sends each frame of a pcap, byte for byte, out of an interface (AF_PACKET): crafted
packets go out exactly as built, checksums and bad lengths included.
    dogfish-lab exec client -- python3 send_frames.py gw frames.pcap
Prints JSON: {"sent": n}."""
import json
import socket
import sys

from scapy.utils import RawPcapReader


def main():
    iface, path = sys.argv[1], sys.argv[2]
    sent = 0
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((iface, 0))
        for frame, _meta in RawPcapReader(path):
            if s.send(frame) != len(frame):
                raise SystemExit(f"send_frames: short send of a {len(frame)}-byte frame on {iface}")
            sent += 1
    print(json.dumps({"sent": sent}))


if __name__ == "__main__":
    main()
