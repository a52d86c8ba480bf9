#!/usr/bin/python3
"""A host of the testbed played by scapy's ESP (an independent implementation), for esp_e2e.py.

Run inside host a's namespace while mflowd runs on host b only:
  send: COUNT UDP datagrams from a made-up container (198.19.0.1, 02:00:00:00:00:01) to host b's
        container, each as Ethernet/IP/UDP in VXLAN (VNI 42) in UDP 4789, encrypted by scapy's
        SecurityAssociation (transport mode, ESP in UDP 4500, random explicit IVs), sent to b.
  recv: waits for COUNT ESP-in-UDP datagrams on UDP 4500, decrypts each with scapy, and reads
        the UDP payload inside its VXLAN frame. Prints a JSON line: what arrived and decrypted.
  plain: as send, but plain VXLAN to UDP 4789 (a peer without an SA); --sa is not needed.
SA: "spi=.. alg=aes-128-gcm|aes-256-gcm key=.. salt=.. esn=on|off" as in mflowd's key file.
"""
import argparse
import json
import logging
import socket
import sys

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, UDP, Ether, Raw, raw  # noqa: E402
from scapy.layers.ipsec import ESP, SecurityAssociation  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402


def parse_sa(text):
    f = dict(kv.split("=", 1) for kv in text.split())
    return (int(f["spi"], 0), bytes.fromhex(f["key"]) + bytes.fromhex(f["salt"]),
            f.get("esn", "on") == "on")


def vxlan_frame(a, i):
    """Datagram i's VXLAN payload: from a made-up container to host b's, VNI 42."""
    inner = (Ether(src="02:00:00:00:00:01", dst=a.inner_dst_mac) /
             IP(src="198.19.0.1", dst="198.19.0.2") / UDP(sport=7200, dport=a.port) /
             Raw(b"mfe-scapy-%d" % i))
    # The VXLAN header as bytes: scapy's VXLAN layer above an Ethernet payload sets the GPE
    # next-protocol bits, which RFC 7348 VXLAN refuses as reserved.
    return bytes.fromhex("08000000") + (42 << 8).to_bytes(4, "big") + raw(inner)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=("send", "recv", "plain"))
    ap.add_argument("--sa", default="")
    ap.add_argument("--local", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--inner-dst-mac", default="ff:ff:ff:ff:ff:ff")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--port", type=int, default=7100)
    ap.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args()
    if a.role == "plain":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a.local, 0))
        for i in range(a.count):
            s.sendto(vxlan_frame(a, i), (a.peer, 4789))
        print(json.dumps({"sent": a.count}))
        return 0
    if not a.sa:
        ap.error(f"{a.role} needs --sa")
    spi, key, esn = parse_sa(a.sa)
    if a.role == "send":
        sa = SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key, esn_en=esn,
                                 esn=0, nat_t_header=UDP(sport=4500, dport=4500))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a.local, 0))
        for i in range(a.count):
            pkt = IP(raw(IP(src=a.local, dst=a.peer) / UDP(sport=49152 + i, dport=4789) /
                         Raw(vxlan_frame(a, i))))
            enc = raw(sa.encrypt(pkt, seq_num=i + 1))
            udp_esp = bytearray(enc[(enc[0] & 0xf) * 4:])
            udp_esp[4:6] = len(udp_esp).to_bytes(2, "big")  # scapy 2.5 writes 8 here
            s.sendto(bytes(udp_esp[8:]), (a.peer, 4500))  # the socket adds UDP 4500
        print(json.dumps({"sent": a.count}))
        return 0
    sa = SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key, esn_en=esn, esn=0)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.local, 4500))
    s.settimeout(a.timeout)
    print(json.dumps({"listening": True}), flush=True)
    payloads, bad, other = [], 0, 0
    try:
        while len(payloads) < a.count:
            data, _ = s.recvfrom(65535)
            esp = IP(raw(IP(src=a.peer, dst=a.local) / ESP(data)))
            try:
                plain = sa.decrypt(esp)
            except Exception:
                bad += 1
                continue
            frame = VXLAN(raw(plain[UDP].payload))
            inner = frame.payload
            if UDP in inner and inner[UDP].dport == a.port:
                payloads.append(raw(inner[UDP].payload).decode(errors="replace"))
            else:
                other += 1  # ARP and the like
    except socket.timeout:
        pass
    print(json.dumps({"got": payloads, "undecryptable": bad, "other": other}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
