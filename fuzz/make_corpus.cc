// make_corpus: writes the seed corpora of the fuzz targets from golden
// frames (wire::BuildInnerFrame / BuildVxlanFrame), one file per seed, into
// <dir>/<target>/<name>. The output is deterministic; the seeds are
// committed under fuzz/corpus/ and regenerated with
//   build-fuzz/fuzz/mflow-fuzz-corpus fuzz/corpus
// Seeds are valid inputs of every kind the stages distinguish (TCP/UDP,
// IPv4/IPv6, 802.1Q, non-IP, GRO runs, TSO super-frames, scatter/gather),
// plus a few near misses; the fuzzer finds the malformed ones itself.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "input_format.h"
#include "wire/frame_builder.h"
#include "wire/tcp.h"
#include "wire/test_frames.h"

namespace mflow::fuzz {
namespace {

using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

using testing::Outer6;
using testing::Tcp4;
using testing::Tcp6;
using testing::Udp4;
using testing::Udp6;
using testing::Vlan;

Bytes Inner(const wire::InnerSpec& spec, uint32_t payload_len, uint32_t stream_pos = 0) {
  Bytes out = testing::BuildInner(spec, testing::StreamPayload(payload_len, stream_pos));
  if (out.empty()) {
    std::fprintf(stderr, "make_corpus: inner frame does not fit\n");
    std::exit(1);
  }
  return out;
}

Bytes Vxlan(const Bytes& inner, const wire::OuterSpec& outer = wire::OuterSpec{}) {
  Bytes out = testing::BuildVxlan(inner, outer);
  if (out.empty()) {
    std::fprintf(stderr, "make_corpus: VXLAN frame does not fit\n");
    std::exit(1);
  }
  return out;
}

// An ARP request: a non-IP frame the overlay forwards without looking inside.
Bytes Arp() {
  Bytes f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,    0,    0, 0,   0x01, 0x08, 0x06,
             0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01, 0x02, 0, 0,   0,    0,    0x01,
             198,  18,   1,    1,    0,    0,    0,    0,    0,    0, 198, 18,   1,    2};
  return f;
}

class Writer {
 public:
  explicit Writer(fs::path root) : root_(std::move(root)) {}
  void Put(const std::string& target, const std::string& name, const Bytes& data) {
    const fs::path dir = root_ / target;
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    if (!out) {
      std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir / name).c_str());
      std::exit(1);
    }
    ++files_;
    bytes_ += data.size();
  }
  void Summary() const { std::printf("make_corpus: %u files, %zu bytes\n", files_, bytes_); }

 private:
  fs::path root_;
  unsigned files_ = 0;
  size_t bytes_ = 0;
};

// A run of n back-to-back TCP segments of one flow (the last with PSH), the
// input GRO merges.
std::vector<Bytes> Run(wire::InnerSpec spec, uint32_t n, uint32_t mss) {
  std::vector<Bytes> out;
  for (uint32_t i = 0; i < n; ++i) {
    spec.tcp_seq = 1 + i * mss;
    spec.tcp_flags = i + 1 == n ? (wire::kTcpAck | wire::kTcpPsh) : wire::kTcpAck;
    out.push_back(Inner(spec, mss, i * mss));
  }
  return out;
}

Bytes RxBatch(const std::vector<Bytes>& frames) {
  Bytes out;
  for (const Bytes& f : frames) AppendRecord(out, f, nullptr);
  return out;
}

Bytes TxOne(const TxMeta& m, const Bytes& frame) {
  Bytes out;
  AppendMeta(out, m);
  out.insert(out.end(), frame.begin(), frame.end());
  return out;
}

void Write(Writer& w) {
  const Bytes tcp4 = Inner(Tcp4(), 100);
  const Bytes tcp4_full = Inner(Tcp4(), 1448);
  const Bytes tcp4_ack = Inner(Tcp4(), 0);
  const Bytes udp4 = Inner(Udp4(), 64);
  Bytes udp4_nocsum = udp4;
  udp4_nocsum[14 + 20 + 6] = 0;
  udp4_nocsum[14 + 20 + 7] = 0;
  const Bytes tcp6 = Inner(Tcp6(), 200);
  const Bytes udp6 = Inner(Udp6(), 64);
  const Bytes vlan_tcp4 = Inner(Vlan(Tcp4()), 300);
  wire::InnerSpec icmp = Tcp4();
  icmp.l4_proto = 1;
  const Bytes icmp4 = Inner(icmp, 32);
  const Bytes arp = Arp();

  const std::vector<std::pair<std::string, Bytes>> inners = {
      {"tcp4", tcp4}, {"tcp4_1448", tcp4_full},     {"tcp4_ack", tcp4_ack},
      {"udp4", udp4}, {"udp4_nocsum", udp4_nocsum}, {"tcp6", tcp6},
      {"udp6", udp6}, {"vlan_tcp4", vlan_tcp4},     {"icmp4", icmp4},
      {"arp", arp},
  };

  // Wire parsers.
  for (const auto& [name, f] : inners) {
    w.Put("parse_frame", name, f);
    w.Put("classify_inner", name, f);
  }
  w.Put("parse_frame", "vxlan_tcp4", Vxlan(tcp4));
  w.Put("parse_frame", "vxlan6_tcp6", Vxlan(tcp6, Outer6()));
  for (const auto& [name, f] : inners) w.Put("classify_vxlan", "vxlan_" + name, Vxlan(f));
  w.Put("classify_vxlan", "vxlan6_tcp4", Vxlan(tcp4, Outer6()));
  const char* addrs[] = {"198.18.0.1",
                         "255.255.255.255",
                         "0.0.0.0",
                         "2001:db8::1",
                         "::",
                         "::1",
                         "::ffff:1.2.3.4",
                         "fe80::1:2:3:4",
                         "2001:0db8:0000:0000:0000:ff00:0042:8329"};
  int i = 0;
  for (const char* a : addrs)
    w.Put("ip_addr", "addr" + std::to_string(i++), Bytes(a, a + std::strlen(a)));

  // rx chain: one VXLAN frame.
  for (const auto& [name, f] : inners) w.Put("rx_chain", "vxlan_" + name, Vxlan(f));
  w.Put("rx_chain", "vxlan6_tcp6", Vxlan(tcp6, Outer6()));
  wire::OuterSpec csum;
  csum.udp_checksum = true;
  w.Put("rx_chain", "vxlan_csum_udp4", Vxlan(udp4, csum));
  wire::OuterSpec vni7;
  vni7.vni = 7;
  w.Put("rx_chain", "vxlan_vni7_tcp4", Vxlan(tcp4, vni7));
  // ESP in UDP 4500 from the harness's encrypted peer (198.18.0.99): the 8
  // bytes where VXLAN's header would be read as SPI 0x08000000, the
  // harness's inbound SA, and sequence number 0x2a00 (the VNI's bytes), so
  // the frame reaches the replay check and the ICV (which it fails).
  wire::OuterSpec esp;
  esp.src_ip = wire::IpAddr::V4(0xC6120063);
  esp.dport = 4500;
  w.Put("rx_chain", "esp_spi_known", Vxlan(tcp4, esp));

  // rx chain: batches (GRO runs, mixed flows).
  std::vector<Bytes> run4;
  for (const Bytes& f : Run(Tcp4(), 8, 1448)) run4.push_back(Vxlan(f));
  w.Put("rx_batch", "gro4_x8", RxBatch(run4));
  std::vector<Bytes> run6;
  for (const Bytes& f : Run(Tcp6(), 5, 1428)) run6.push_back(Vxlan(f, Outer6()));
  w.Put("rx_batch", "gro6_x5", RxBatch(run6));
  std::vector<Bytes> runv;
  for (const Bytes& f : Run(Vlan(Tcp4()), 4, 1000)) runv.push_back(Vxlan(f));
  w.Put("rx_batch", "gro_vlan_x4", RxBatch(runv));
  wire::InnerSpec other = Tcp4();
  other.sport = 40001;
  std::vector<Bytes> mixed;
  const std::vector<Bytes> a = Run(Tcp4(), 4, 500);
  const std::vector<Bytes> b = Run(other, 4, 500);
  for (size_t k = 0; k < a.size(); ++k) {
    mixed.push_back(Vxlan(a[k]));
    mixed.push_back(Vxlan(b[k]));
  }
  mixed.push_back(Vxlan(udp4));
  mixed.push_back(Vxlan(arp));
  mixed.push_back(Vxlan(tcp4_ack));
  w.Put("rx_batch", "mixed", RxBatch(mixed));
  std::vector<Bytes> broken = run4;
  broken[3][broken[3].size() - 1] ^= 0x5a;  // a bad inner TCP checksum mid-run
  w.Put("rx_batch", "gro4_bad_csum", RxBatch(broken));

  // tx chain: frames from a container, with TSO metadata.
  const uint8_t port0_vni42 = 0x01 | kTxFlagVni42;
  w.Put("tx_chain", "tcp4", TxOne({0, port0_vni42, 0}, tcp4_full));
  w.Put("tx_chain", "udp6", TxOne({0, 0x01, 0}, udp6));
  w.Put("tx_chain", "arp", TxOne({0, 0x02, 0}, arp));
  const Bytes super4 = Inner(Tcp4(), 14480);
  w.Put("tx_chain", "tso4_x10", TxOne({1448, port0_vni42, 0}, super4));
  w.Put("tx_chain", "tso4_x10_sg", TxOne({1448, port0_vni42, 54}, super4));
  w.Put("tx_chain", "tso4_x10_sg_small", TxOne({1448, port0_vni42 | 0x50, 60}, super4));
  // IPv6 underlay: every outer UDP checksum covers the scatter/gather
  // pieces, odd-sized ones here (class 2: 7 bytes).
  const uint8_t v6u = kTxFlagV6Underlay;
  w.Put("tx_chain", "v6u_tcp4", TxOne({0, port0_vni42 | v6u, 0}, tcp4_full));
  w.Put("tx_chain", "v6u_tso4_x10", TxOne({1448, port0_vni42 | v6u, 0}, super4));
  w.Put("tx_chain", "v6u_tso6_sg_odd",
        TxOne({1408, port0_vni42 | v6u | 0x20, 74}, Inner(Tcp6(), 3000)));
  w.Put("tx_chain", "tso6_vlan", TxOne({1408, 0x01 | kTxFlagVni7, 0}, Inner(Vlan(Tcp6()), 8000)));
  w.Put("tx_chain", "tso4_64k", TxOne({1448, port0_vni42, 54}, Inner(Tcp4(), 65000)));
  w.Put("tx_chain", "tso4_gso_too_big", TxOne({9000, port0_vni42, 0}, super4));
  w.Put("tx_chain", "tso_udp", TxOne({1000, port0_vni42, 0}, Inner(Udp4(), 3000)));
  Bytes tcp4_opts = Inner(Tcp4(), 4000);
  w.Put("tx_chain", "tso4_short_tail", TxOne({1448, port0_vni42, 0}, tcp4_opts));

  Bytes batch;
  const TxMeta plain{0, port0_vni42, 0};
  const TxMeta tso{1448, port0_vni42, 0};
  const TxMeta tso_sg{1448, port0_vni42 | 0x30, 54};
  AppendRecord(batch, tcp4, &plain);
  AppendRecord(batch, Inner(Tcp4(), 5000), &tso);
  AppendRecord(batch, udp4, &plain);
  AppendRecord(batch, Inner(Tcp6(), 6000), &tso_sg);
  AppendRecord(batch, arp, &plain);
  w.Put("tx_batch", "mixed", batch);
  Bytes plains;
  for (uint32_t k = 0; k < 8; ++k) {
    wire::InnerSpec s = Tcp4();
    s.tcp_seq = 1 + k * 1000;
    AppendRecord(plains, Inner(s, 1000, k * 1000), &plain);
  }
  w.Put("tx_batch", "plain_x8", plains);
  Bytes v6_batch;
  const TxMeta plain_v6u{0, port0_vni42 | v6u, 0};
  const TxMeta tso_v6u{1448, port0_vni42 | v6u | 0x20, 54};
  AppendRecord(v6_batch, tcp4, &plain_v6u);
  AppendRecord(v6_batch, Inner(Tcp4(), 5000), &tso_v6u);
  AppendRecord(v6_batch, udp6, &plain_v6u);
  w.Put("tx_batch", "v6u_mixed", v6_batch);

  // ESP decap (esp_decap_fuzz.cc): flags, window top, then a packet or, when
  // sealed, a sequence number and the plaintext the harness encrypts. The
  // plaintext is a VXLAN UDP datagram with an RFC 4303 trailer.
  auto be64 = [](Bytes& b, uint64_t v) {
    for (int i = 7; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  auto esp_seed = [&](uint8_t flags, uint64_t top, uint64_t seq, uint32_t payload_len,
                      uint8_t pad_len, bool good_pad, uint8_t next_header) {
    Bytes b{flags};
    be64(b, top);
    be64(b, seq);
    const Bytes inner = Inner(Udp4(), payload_len);
    const uint8_t udp_vxlan[16] = {0xc0, 0x00, 0x12, 0xb5, 0, 0, 0, 0,
                                   0x08, 0, 0, 0, 0, 0, 0x2a, 0};
    b.insert(b.end(), udp_vxlan, udp_vxlan + 16);
    b.insert(b.end(), inner.begin(), inner.end());
    for (uint8_t i = 1; i <= pad_len; ++i) b.push_back(good_pad ? i : static_cast<uint8_t>(i + 1));
    b.push_back(pad_len);
    b.push_back(next_header);
    return b;
  };
  const uint64_t k2_32 = uint64_t{1} << 32;
  w.Put("esp_decap", "sealed_esn", esp_seed(5, 0, 1, 64, 2, true, 17));
  w.Put("esp_decap", "sealed_noesn_udp", esp_seed(6, 100, 50, 100, 1, true, 17));
  w.Put("esp_decap", "sealed_esn_wrap", esp_seed(5, k2_32 - 5, k2_32 + 2, 40, 3, true, 17));
  w.Put("esp_decap", "sealed_bad_nh", esp_seed(5, 0, 1, 64, 2, true, 4));
  w.Put("esp_decap", "sealed_bad_pad", esp_seed(4, 0, 7, 64, 3, false, 17));
  Bytes raw{1, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x10, 0x00, 0, 0, 0, 1};
  raw.resize(raw.size() + 60, 0x5a);
  w.Put("esp_decap", "raw_forged", raw);
  w.Put("esp_decap", "raw_keepalive", Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff});
  Bytes ike{2, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x94, 0x11, 0x94, 0, 20, 0, 0, 0, 0, 0, 0};
  ike.resize(ike.size() + 8, 1);
  w.Put("esp_decap", "raw_udp_ike", ike);
}

}  // namespace
}  // namespace mflow::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  mflow::fuzz::Writer w{std::filesystem::path(argv[1])};
  mflow::fuzz::Write(w);
  w.Summary();
  return 0;
}
