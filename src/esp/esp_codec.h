// ESP encapsulation and decapsulation of one Packet, in place.
//
// Outbound (EspEncrypt): p->data is at the payload to protect - in mflow the
// VXLAN UDP datagram (UDP 4789 header, VXLAN header, inner frame), which is
// ESP transport mode around that datagram, next header 17. The ESP header
// and IV go into the headroom, padding/trailer/ICV into the tailroom, and the
// payload is encrypted where it lies. A packet with fragments (a TSO segment
// pointing into its carrier's payload, a GRO super-frame) is linearised by
// the encryption itself: the fragments are read and their ciphertext written
// behind the linear part, so the cipher's pass is the copy; that needs
// tailroom for the fragments' bytes too, else kEspNoTailroom.
//
// Inbound, in two steps so that the engine can decrypt on any worker and
// keep the window in its merge:
//   EspDecrypt(p, sa, open, window, &seq): parse, reconstruct seq (ESN), the
//     window's read-only Check, decrypt and verify the ICV, check the
//     trailer, strip header/IV/trailer/ICV. Leaves the window unchanged.
//   window.Update(seq): afterwards, in order, by the window's owner; a
//     kReplayed or kLeftOfWindow verdict there drops the packet after all.
// EspInbound (esp_endpoint.h) does both for a single-threaded caller.
//
// The explicit IV is the 64-bit sequence number, big-endian: unique per
// packet under one key (RFC 4106 3.1 asks exactly that) and needs no random
// bytes per packet. Linux's seqiv template XORs the same counter with a
// per-SA random value instead; both are valid, and the receiver only copies
// the IV into the nonce, so they interoperate.
//
// Thread-safety: the functions are reentrant; the AesGcm passed in is the
// calling thread's own (aes_gcm.h), the window is only read.
#pragma once

#include <cstdint>

#include "esp/aes_gcm.h"
#include "esp/esp_format.h"
#include "esp/esp_sa.h"
#include "esp/replay_window.h"
#include "packet/packet.h"

namespace mflow::esp {

// Encrypts p with sequence number seq (assigned by the caller, in order;
// 1, 2, 3, ...). Returns kEspOk with p->data at the ESP header and p->len
// covering header .. ICV (nfrags 0), or an EspEncapDrop with p unchanged
// (except after kEspEncapCipherError, when the payload may be scrambled).
int EspEncrypt(Packet* p, const EspSa& sa, AesGcm& seal, uint64_t seq,
               uint8_t next_header = kNextHeaderUdp) noexcept;

// The SPI of an ESP packet at p->data, or 0 when too short to have one
// (0 is never a valid SPI): for choosing the SA before EspDecrypt.
uint32_t EspPeekSpi(const Packet* p) noexcept;

// kEspOk when p (data at the ESP header) is linear and long enough to be
// an ESP packet, else why not: kEspNotLinear, kEspNatKeepalive,
// kEspNonEspMarker or kEspTruncated. EspDecrypt starts with it; a caller
// that finds no SA for the SPI uses it to tell a runt from a stranger.
int EspCheckShape(const Packet* p) noexcept;

// Decrypts p (data at the ESP header) with sa, whose SPI the caller matched.
// On kEspOk, p->data is at the protected payload, p->len its length, and
// *seq the full (ESN-reconstructed) sequence number to pass to Update. On a
// drop the packet's bytes are unspecified (decrypted in place) and must not
// be delivered.
int EspDecrypt(Packet* p, const EspSa& sa, AesGcm& open, const ReplayWindow& window,
               uint64_t* seq) noexcept;

// RFC 3948 UDP encapsulation: prepends the 8-byte UDP header (checksum 0,
// which RFC 3948 2.1 allows for IPv4; an IPv6 underlay needs the checksum
// filled in by whoever writes the IPv6 header, or the kernel). Returns
// kEspOk or kEspNoHeadroom.
int EspUdpPrepend(Packet* p, uint16_t src_port, uint16_t dst_port) noexcept;
// Strips the UDP header of an ESP-in-UDP datagram (p->data at UDP): returns
// kEspOk with p->data at the ESP header, or kEspTruncated when the datagram
// is shorter than its header or than its length field says (bytes beyond
// the length field are trimmed, as IP padding would be).
int EspUdpStrip(Packet* p) noexcept;

}  // namespace mflow::esp
