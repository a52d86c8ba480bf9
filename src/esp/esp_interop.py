#!/usr/bin/python3
# Interop of mflow's ESP (mflow-esp-tool) with an independent implementation:
# scapy's SecurityAssociation (Debian python3-scapy on python3-cryptography).
#
# For AES-GCM-128 and -256, ESN on and off, several sequence numbers
# (including the 2^32 wrap with ESN) and payload sizes, in both directions:
#   scapy encrypts a VXLAN UDP datagram (transport mode, RFC 3948 UDP 4500
#   encapsulation) -> mflow-esp-tool decap returns exactly that datagram;
#   mflow-esp-tool encap -> scapy decrypts it to exactly that datagram.
# And one tampered byte in scapy's packet is refused by mflow as bad_icv.
# scapy picks a random explicit IV; mflow uses the sequence number: each
# side must read the IV from the packet, so both choices are exercised.
#
#   esp_interop.py path/to/mflow-esp-tool
# Exits 0 when every case passes; prints what differs otherwise.
import os
import subprocess
import sys

import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, UDP, Ether, ICMP, Raw, raw  # noqa: E402
from scapy.layers.ipsec import ESP, SecurityAssociation  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402

TOOL = sys.argv[1] if len(sys.argv) > 1 else "mflow-esp-tool"
OUTER_SRC, OUTER_DST = "198.18.0.1", "198.18.0.2"


def tool(cmd, sa_text, hex_in, *extra):
    r = subprocess.run([TOOL, cmd, "--sa", sa_text, *extra], input=hex_in + "\n",
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def vxlan_datagram(size, seed):
    inner = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
             IP(src="198.19.0.1", dst="198.19.0.2") / ICMP(seq=seed) /
             Raw(bytes((i * 7 + seed) & 0xff for i in range(size))))
    pkt = IP(src=OUTER_SRC, dst=OUTER_DST) / UDP(sport=49152 + seed, dport=4789) / VXLAN(vni=42) / inner
    return IP(raw(pkt))  # built once: checksums and lengths fixed


def main():
    failures = 0
    cases = 0
    algs = [("aes-128-gcm", bytes(range(16))), ("aes-256-gcm", bytes(range(32, 64)))]
    salt = bytes.fromhex("c0ffee01")
    for alg, key in algs:
        for esn in (False, True):
            seqs = [1, 0x12345, 0xfffffff0] if not esn else [1, (5 << 32) + 7, (1 << 32) + 3]
            for seq in seqs:
                hi, lo = seq >> 32, seq & 0xffffffff
                spi = 0x1000 + cases
                sa_text = "spi=%d alg=%s key=%s salt=%s esn=%s" % (
                    spi, alg, key.hex(), salt.hex(), "on" if esn else "off")
                window = ["--window-top", str(seq - 1)] if seq > 1 else []
                for size in (0, 1, 2, 3, 100, 1400):
                    cases += 1
                    name = "%s esn=%s seq=%#x size=%d" % (alg, "on" if esn else "off", seq, size)
                    orig = vxlan_datagram(size, cases % 200)
                    ihl = orig[IP].ihl * 4
                    datagram = raw(orig)[ihl:]  # UDP 4789 + VXLAN + inner frame

                    # scapy -> mflow
                    sa = SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM",
                                             crypt_key=key + salt, esn_en=esn, esn=hi,
                                             nat_t_header=UDP(sport=4500, dport=4500))
                    enc = raw(sa.encrypt(orig, seq_num=lo))
                    udp_esp = bytearray(enc[(enc[0] & 0xf) * 4:])
                    # scapy 2.5.0 builds the NAT-T UDP header before it
                    # appends the ESP payload, so its length field says 8;
                    # put the datagram's real length there (RFC 768).
                    if udp_esp[4:6] == b"\x00\x08":
                        udp_esp[4:6] = len(udp_esp).to_bytes(2, "big")
                    udp_esp = bytes(udp_esp)
                    rc, out, err = tool("decap", sa_text, udp_esp.hex(), "--udp", *window)
                    if rc != 0 or out != datagram.hex():
                        print("FAIL scapy->mflow %s: rc=%d %s %s" % (name, rc, out[:60], err))
                        failures += 1
                    bad = bytearray(udp_esp)
                    bad[len(bad) // 2] ^= 0x40
                    rc, out, _ = tool("decap", sa_text, bytes(bad).hex(), "--udp", *window)
                    if rc != 2 or out != "drop bad_icv":
                        print("FAIL scapy->mflow tampered %s: rc=%d %s" % (name, rc, out[:60]))
                        failures += 1

                    # mflow -> scapy
                    rc, out, err = tool("encap", sa_text, datagram.hex(), "--udp", "--seq", str(seq))
                    if rc != 0:
                        print("FAIL mflow encap %s: rc=%d %s %s" % (name, rc, out, err))
                        failures += 1
                        continue
                    wire = bytes.fromhex(out)
                    if wire[0:4] != b"\x11\x94\x11\x94":
                        print("FAIL mflow encap %s: not UDP 4500 -> 4500" % name)
                        failures += 1
                    got = IP(raw(IP(src=OUTER_DST, dst=OUTER_SRC, proto=17) / Raw(wire)))
                    esp = IP(src=OUTER_DST, dst=OUTER_SRC) / ESP(wire[8:])
                    esp = IP(raw(esp))
                    rx = SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM",
                                             crypt_key=key + salt, esn_en=esn, esn=hi)
                    try:
                        plain = rx.decrypt(esp)
                    except Exception as e:  # scapy raises on a bad ICV
                        print("FAIL mflow->scapy %s: %s" % (name, e))
                        failures += 1
                        continue
                    if raw(plain[UDP]) != datagram or got[UDP].len != len(wire):
                        print("FAIL mflow->scapy %s: payload differs" % name)
                        failures += 1
    print("esp interop: %d cases, %d failures" % (cases, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
