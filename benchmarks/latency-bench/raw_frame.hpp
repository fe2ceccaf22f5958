// benchmarks/latency-bench/raw_frame.hpp - latency-bench's raw frame, which
// raw-ping/raw-pong (raw.cpp) and the interleaved raw samples of tcp-ping and
// tcp-server (raw_tap.cpp) all use.
//
// Ethernet (dst the peer's MAC, src the device's, IPv4), IPv4 from the sender
// to the peer with protocol 253 (RFC 3692: set aside for experiments, so
// nothing on the hosts claims it), then "CLAT" and the sequence number
// (big-endian, 8 bytes), then zeros up to the frame's length (64 by default).
// A reply is the same frame with the MAC and IPv4 addresses swapped.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "io/device.hpp"
#include "proto/types.hpp"
#include "proto/wire/ethernet.hpp"
#include "proto/wire/ipv4.hpp"

namespace coronet::latency::raw_frame {

inline constexpr std::uint8_t ip_proto_experiment = 253;  // RFC 3692 2.1 (IANA: "Use for experimentation and testing")
inline constexpr std::size_t eth_len = wire::ethernet_header_len;
inline constexpr std::size_t ip_len = wire::ipv4_min_header_len;
inline constexpr std::size_t magic_at = eth_len + ip_len;  // payload: "CLAT", then the sequence number
inline constexpr std::size_t seq_at = magic_at + 4;
inline constexpr std::array<std::uint8_t, 4> magic = {'C', 'L', 'A', 'T'};
inline constexpr std::size_t min_len = seq_at + 8;

// An IPv4 frame of protocol 253 addressed to `to`, carrying the magic.
inline bool is_experiment_to(bytes f, ipv4_addr to) {
  if (f.size() < min_len) return false;
  if (load_be16(&f[12]) != static_cast<std::uint16_t>(wire::ethertype::ipv4)) return false;
  if (f[eth_len] != 0x45 || f[eth_len + 9] != ip_proto_experiment) return false;  // version 4, IHL 5
  return load_be32(&f[eth_len + 16]) == to.value && std::equal(magic.begin(), magic.end(), &f[magic_at]);
}

inline ipv4_addr source_of(bytes f) { return ipv4_addr{load_be32(&f[eth_len + 12])}; }

inline std::uint64_t seq_of(bytes f) {
  std::uint64_t seq = 0;
  for (int i = 0; i < 8; ++i) seq = (seq << 8) | f[seq_at + static_cast<std::size_t>(i)];
  return seq;
}

inline void set_seq(mut_bytes f, std::uint64_t seq) {
  for (int i = 0; i < 8; ++i) f[seq_at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(seq >> (56 - 8 * i));
}

// A request from (src_mac, src) to (dst_mac, dst), `frame.size()` bytes long
// (at least min_len), sequence number 0.
inline void build(std::vector<std::uint8_t>& frame, mac_addr src_mac, mac_addr dst_mac, ipv4_addr src, ipv4_addr dst) {
  std::fill(frame.begin(), frame.end(), 0);
  wire::emit(wire::ethernet_header{.dst = dst_mac, .src = src_mac,
                                   .type = static_cast<std::uint16_t>(wire::ethertype::ipv4)},
             frame);
  wire::emit(wire::ipv4_header{.src = src,
                               .dst = dst,
                               .proto = ip_proto_experiment,
                               .payload_len = static_cast<std::uint16_t>(frame.size() - eth_len - ip_len)},
             mut_bytes(frame).subspan(eth_len));
  std::copy(magic.begin(), magic.end(), &frame[magic_at]);
}

// Request `seq` (written into `frame`) copied into a TX buffer of `dev` and
// committed; false when no buffer was free. The caller flushes.
inline bool commit_request(io::device& dev, std::vector<std::uint8_t>& frame, std::uint64_t seq) {
  mut_bytes out = dev.tx_buffer();
  if (out.size() < frame.size()) return false;
  set_seq(frame, seq);
  std::memcpy(out.data(), frame.data(), frame.size());
  dev.tx_commit(frame.size());
  return true;
}

// The reply to request `f` in `out` (at least f.size() bytes), from `me`:
// back to the sender, IPv4 source and destination swapped, which leaves the
// one's-complement header checksum as it was.
inline void write_reply(mut_bytes out, bytes f, mac_addr me) {
  std::memcpy(out.data(), f.data(), f.size());
  std::memcpy(&out[0], &f[6], 6);
  std::memcpy(&out[6], me.b.data(), 6);
  std::memcpy(&out[eth_len + 12], &f[eth_len + 16], 4);
  std::memcpy(&out[eth_len + 16], &f[eth_len + 12], 4);
}

}  // namespace coronet::latency::raw_frame
