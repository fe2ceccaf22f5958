// proto/wire/tcp.cpp - TCP header parse and emit (RFC 9293 3.1).
#include "proto/wire/tcp.hpp"

#include <cstring>

#include "proto/wire/checksum.hpp"
#include "proto/wire/ipv4.hpp"

namespace coronet::wire {

namespace {
constexpr std::uint8_t proto_tcp = static_cast<std::uint8_t>(ip_proto::tcp);

// The pseudo-header carries a 16-bit length; IPv4 cannot deliver more. The
// length is added as a plain number so a larger span (never from ipv4_view)
// cannot be truncated into a wrong but passing sum.
std::uint32_t pseudo_sum(ipv4_addr src, ipv4_addr dst, std::size_t len) {
  return pseudo_header_sum(src, dst, proto_tcp, 0) + static_cast<std::uint32_t>(len);
}
}  // namespace

std::optional<drop> tcp_view::parse_into(tcp_view& v, bytes segment, ipv4_addr src, ipv4_addr dst,
                                          bool verify_checksum) {
  if (segment.size() < tcp_min_header_len) return drop::tcp_too_short;
  const std::uint8_t* p = segment.data();
  // RFC 9293 3.1 Data Offset: header length in 32-bit words, at least 5.
  const std::size_t header_len = (std::size_t{p[12]} >> 4) * 4;
  if (header_len < tcp_min_header_len || header_len > segment.size()) return drop::tcp_bad_data_offset;
  // RFC 9293 3.1 Checksum: over pseudo-header, header and data; Linux
  // tcp_v4_rcv() -> tcp_checksum_complete() counts failures as InCsumErrors.
  if (verify_checksum && csum_fold(csum_add(pseudo_sum(src, dst, segment.size()), segment)) != 0) {
    // A sender that offloads the checksum leaves only the pseudo-header sum
    // in the field (Linux tcp_v4_send_check(), CHECKSUM_PARTIAL). Over veth
    // such frames reach a device that cannot say so (AF_XDP has no
    // TP_STATUS_CSUMNOTREADY): still dropped, but counted apart so the cause
    // has a name.
    const auto partial = static_cast<std::uint16_t>(~csum_fold(pseudo_sum(src, dst, segment.size())));
    return load_be16(p + 16) == partial ? drop::tcp_csum_partial : drop::tcp_bad_checksum;
  }
  if (auto bad = parse_tcp_options(segment.subspan(tcp_min_header_len, header_len - tcp_min_header_len), v.h_.options))
    return bad;
  v.h_.src_port = load_be16(p);
  v.h_.dst_port = load_be16(p + 2);
  v.h_.seq = load_be32(p + 4);
  v.h_.ack = load_be32(p + 8);
  v.h_.flags = p[13];  // CWR ECE URG ACK PSH RST SYN FIN; the reserved bits and NS are ignored
  v.h_.window = load_be16(p + 14);
  v.h_.urgent = load_be16(p + 18);
  v.payload_ = segment.subspan(header_len);
  return std::nullopt;
}

result<tcp_view> tcp_view::parse(bytes segment, ipv4_addr src, ipv4_addr dst, bool verify_checksum) {
  tcp_view v;
  if (auto bad = parse_into(v, segment, src, dst, verify_checksum)) return *bad;
  return v;
}

std::size_t tcp_header_len(const tcp_header& h) { return tcp_min_header_len + tcp_options_len(h.options); }

namespace {
// The 20 fixed bytes (RFC 9293 3.1), the checksum zero until finish() fills it.
void put_fixed(std::uint8_t* p, std::uint16_t src_port, std::uint16_t dst_port, std::uint32_t seq, std::uint32_t ack,
               std::size_t header_len, std::uint8_t flags, std::uint16_t window, std::uint16_t urgent) {
  store_be16(p, src_port);
  store_be16(p + 2, dst_port);
  store_be32(p + 4, seq);
  store_be32(p + 8, ack);
  p[12] = static_cast<std::uint8_t>((header_len / 4) << 4);
  p[13] = flags;
  store_be16(p + 14, window);
  store_be16(p + 16, 0);
  store_be16(p + 18, urgent);
}

// Copies the payload parts back to back after the header - so the checksum
// is one pass over contiguous bytes and an odd-length first part needs no
// special case - and fills the checksum. Returns the segment length.
std::size_t finish(std::uint8_t* p, std::size_t header_len, bytes payload, bytes payload2, ipv4_addr src,
                   ipv4_addr dst) {
  const std::size_t len = header_len + payload.size() + payload2.size();
  if (!payload.empty()) std::memmove(p + header_len, payload.data(), payload.size());
  if (!payload2.empty()) std::memmove(p + header_len + payload.size(), payload2.data(), payload2.size());
  store_be16(p + 16, csum_fold(csum_add(pseudo_sum(src, dst, len), bytes(p, len))));
  return len;
}
}  // namespace

std::size_t emit(const tcp_header& h, bytes payload, ipv4_addr src, ipv4_addr dst, mut_bytes out,
                 bytes payload2) {
  const std::size_t header_len = tcp_header_len(h);
  if (out.size() < header_len + payload.size() + payload2.size()) return 0;
  std::uint8_t* p = out.data();
  put_fixed(p, h.src_port, h.dst_port, h.seq, h.ack, header_len, h.flags, h.window, h.urgent);
  emit_tcp_options(h.options, out.subspan(tcp_min_header_len, header_len - tcp_min_header_len));
  return finish(p, header_len, payload, payload2, src, dst);
}

std::size_t emit_data_segment(const data_segment& s, bytes payload, bytes payload2, ipv4_addr src, ipv4_addr dst,
                              mut_bytes out) {
  const std::size_t header_len = data_segment_header_len(s.has_ts);
  if (out.size() < header_len + payload.size() + payload2.size()) return 0;
  std::uint8_t* p = out.data();
  put_fixed(p, s.src_port, s.dst_port, s.seq, s.ack, header_len, s.flags, s.window, 0);
  if (s.has_ts) {
    store_be32(p + 20, tcp_aligned_timestamps);
    store_be32(p + 24, s.ts.tsval);
    store_be32(p + 28, s.ts.tsecr);
  }
  return finish(p, header_len, payload, payload2, src, dst);
}

}  // namespace coronet::wire
