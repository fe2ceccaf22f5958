// proto/wire/tcp.hpp - the TCP header (RFC 9293 3.1) with its options and the
// pseudo-header checksum.
#pragma once

#include <cstdint>

#include "proto/result.hpp"
#include "proto/types.hpp"
#include "proto/wire/tcp_options.hpp"

namespace coronet::wire {

inline constexpr std::size_t tcp_min_header_len = 20;

namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20,
                              ece = 0x40, cwr = 0x80;
}

struct tcp_header {  // host order
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // as on the wire, unscaled
  std::uint16_t urgent = 0;
  tcp_options options;
  bool operator==(const tcp_header&) const = default;
};

class tcp_view {  // never outlives the frame it points into
 public:
  // Validates: >= 20 bytes (tcp_too_short), data offset >= 5 and within the
  // segment (tcp_bad_data_offset), the pseudo-header checksum unless
  // `verify_checksum` is false (tcp_bad_checksum; false when the device says
  // the kernel left it to offload, TP_STATUS_CSUMNOTREADY), options
  // (tcp_bad_option).
  static result<tcp_view> parse(bytes segment, ipv4_addr src, ipv4_addr dst, bool verify_checksum = true);
  // The same into `v` (the receive path's, reused: nothing copied); nullopt
  // when valid, else why not (and `v` is unspecified).
  static std::optional<drop> parse_into(tcp_view& v, bytes segment, ipv4_addr src, ipv4_addr dst,
                                        bool verify_checksum = true);
  tcp_view() = default;  // empty until parse_into() fills it
  const tcp_header& header() const { return h_; }
  bytes payload() const { return payload_; }

 private:
  tcp_header h_;
  bytes payload_;
};

// Header length emit() will produce for `h` (20 + padded options).
std::size_t tcp_header_len(const tcp_header& h);

// Writes header, options and payload (`payload` then `payload2`, so data from a
// ring buffer's two halves is copied once), checksum filled last. Returns the
// segment length, or 0 if `out` is too small.
std::size_t emit(const tcp_header& h, bytes payload, ipv4_addr src, ipv4_addr dst, mut_bytes out,
                 bytes payload2 = {});

// What the data path sends on an established connection: no option but
// timestamps. emit_data_segment() writes the same bytes as emit() of the
// equivalent tcp_header (urgent pointer 0), without building one.
struct data_segment {
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  bool has_ts = false;
  tcp_timestamps ts;
};
inline std::size_t data_segment_header_len(bool has_ts) { return has_ts ? tcp_min_header_len + 12 : tcp_min_header_len; }
// Returns the segment length, or 0 if `out` is too small.
std::size_t emit_data_segment(const data_segment& s, bytes payload, bytes payload2, ipv4_addr src, ipv4_addr dst,
                              mut_bytes out);

}  // namespace coronet::wire
