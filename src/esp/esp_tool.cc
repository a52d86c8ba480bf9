// mflow-esp-tool: encapsulates or decapsulates one packet with mflow's ESP
// code, for the interop test against an independent implementation
// (esp_interop.py drives it with scapy's SecurityAssociation).
//
//   mflow-esp-tool encap --sa '<EspSa text>' --seq N [--udp]          < payload hex
//   mflow-esp-tool decap --sa '<EspSa text>' [--window-top N] [--udp] < esp hex
// Input and output are one line of hex: the protected payload (the VXLAN
// UDP datagram) and the ESP packet (SPI .. ICV), with --udp in its RFC 3948
// UDP header (ports 4500). decap prints the payload
// or, on a drop, "drop <reason>" and exits 2. Keys come on the command
// line because this is a test tool.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "esp/esp_endpoint.h"
#include "packet/pool.h"

namespace {

using namespace mflow;
using namespace mflow::esp;

int Usage() {
  std::fprintf(stderr,
               "usage: mflow-esp-tool encap --sa SA --seq N < hex\n"
               "       mflow-esp-tool decap --sa SA [--window-top N] < hex\n");
  return 1;
}

bool ReadHex(std::vector<uint8_t>* out) {
  std::string line;
  std::getline(std::cin, line);
  if (line.size() % 2 != 0) return false;
  for (size_t i = 0; i < line.size(); i += 2) {
    unsigned v = 0;
    if (std::sscanf(line.c_str() + i, "%2x", &v) != 1) return false;
    out->push_back(static_cast<uint8_t>(v));
  }
  return true;
}

void PrintHex(const uint8_t* p, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) std::printf("%02x", p[i]);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string cmd = argv[1];
  std::string sa_text;
  uint64_t seq = 1, window_top = 0;
  bool udp = false;
  for (int i = 2; i < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--udp") {
      udp = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) return Usage();
    if (opt == "--sa") {
      sa_text = argv[i + 1];
    } else if (opt == "--seq") {
      seq = std::stoull(argv[i + 1], nullptr, 0);
    } else if (opt == "--window-top") {
      window_top = std::stoull(argv[i + 1], nullptr, 0);
    } else {
      return Usage();
    }
  }
  auto sa = EspSa::Parse(sa_text);
  if (!sa.ok()) {
    std::fprintf(stderr, "mflow-esp-tool: %s\n", sa.status().message().c_str());
    return 1;
  }
  std::vector<uint8_t> in;
  if (!ReadHex(&in)) {
    std::fprintf(stderr, "mflow-esp-tool: stdin: expected one line of hex\n");
    return 1;
  }
  auto pool = PacketPool::Create({"esp-tool", 4, 65536 + kHeadroom + 256});
  if (!pool.ok()) return 1;
  Packet* p = pool.value()->Alloc();
  if (in.size() > p->tailroom()) return 1;
  if (!in.empty()) std::memcpy(p->data, in.data(), in.size());
  p->len = static_cast<uint32_t>(in.size());
  int rc = 0;
  if (cmd == "encap") {
    auto out = EspOutbound::Create(sa.value());
    if (!out.ok()) return 1;
    out->set_next_seq(seq);
    int r = out->Encap(p);
    if (r == kEspOk && udp) r = EspUdpPrepend(p, kEspUdpPort, kEspUdpPort);
    if (r == kEspOk) {
      PrintHex(p->data, p->len);
    } else {
      std::printf("drop %s\n", std::string(kEspEncapDropNames[static_cast<uint32_t>(r)]).c_str());
      rc = 2;
    }
  } else if (cmd == "decap") {
    EspInbound inbound;
    if (!inbound.AddSa(sa.value()).ok()) return 1;
    if (window_top != 0) inbound.window(sa->spi)->StartAt(window_top);
    uint64_t got = 0;
    int r = udp ? EspUdpStrip(p) : kEspOk;
    if (r == kEspOk) r = inbound.Decap(p, &got);
    if (r == kEspOk) {
      PrintHex(p->data, p->len);
    } else {
      std::printf("drop %s\n", std::string(kEspDropNames[static_cast<uint32_t>(r)]).c_str());
      rc = 2;
    }
  } else {
    rc = Usage();
  }
  PacketFree(p);
  return rc;
}
