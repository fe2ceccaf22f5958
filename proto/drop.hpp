// proto/drop.hpp - every reason the engine discards a frame or a segment.
// Each reason is counted in one place (engine counters); where nstat has a
// name for the event, drop_name() returns it so `--stats` reads like nstat.
#pragma once

#include <cstdint>
#include <string_view>

namespace coronet {

#define CORONET_DROP_REASONS(X)                                                         \
  /* Ethernet */                                                                        \
  X(eth_too_short, "EthTooShort")                                                       \
  X(eth_not_for_us, "EthNotForUs")                                                      \
  X(eth_unknown_type, "EthUnknownType")                                                 \
  /* ARP */                                                                             \
  X(arp_too_short, "ArpTooShort")                                                       \
  X(arp_unsupported, "ArpUnsupported") /* not Ethernet/IPv4, or unknown opcode */       \
  X(arp_not_for_us, "ArpNotForUs")                                                      \
  /* IPv4 (Linux: IpExt / Ip MIB) */                                                    \
  X(ipv4_too_short, "InTruncatedPkts")                                                  \
  X(ipv4_bad_version, "IpBadVersion")                                                   \
  X(ipv4_bad_ihl, "IpBadIhl")                                                           \
  X(ipv4_bad_total_length, "InHdrErrors")                                               \
  X(ipv4_bad_checksum, "IpInCsumErrors")                                                \
  X(ipv4_reasm_fails, "IpReasmFails") /* a datagram given up: bad fragment, no room */ \
  X(ipv4_reasm_timeout, "IpReasmTimeout") /* fragments dropped at ipfrag_time */        \
  X(ipv4_reasm_overlaps, "IpExtReasmOverlaps") /* overlapping fragment: datagram dropped */ \
  X(ipv4_reasm_oversize, "IpReasmOversize") /* reassembled length over 65535 */         \
  X(ipv4_not_for_us, "InAddrErrors")                                                    \
  X(ipv4_unknown_proto, "InUnknownProtos")                                              \
  /* ICMP */                                                                            \
  X(icmp_too_short, "IcmpInErrors")                                                     \
  X(icmp_bad_checksum, "IcmpInCsumErrors")                                              \
  X(icmp_unsupported, "IcmpInUnsupported")                                              \
  X(icmp_echo_too_big, "IcmpEchoTooBig") /* the reply would not fit our MTU */           \
  /* TCP wire */                                                                        \
  X(tcp_too_short, "TcpTooShort")                                                       \
  X(tcp_bad_data_offset, "TcpBadDataOffset")                                            \
  X(tcp_bad_checksum, "InCsumErrors")                                                   \
  X(tcp_csum_partial, "TcpCsumPartial") /* checksum field = pseudo-header sum: offloaded */ \
  X(tcp_bad_option, "TcpBadOption")                                                     \
  X(tcp_bad_port, "TcpBadPort") /* port 0 */                                            \
  /* TCP engine */                                                                      \
  X(tcp_no_socket, "TcpNoSocket") /* closed port: answered with RST */                  \
  X(tcp_listen_overflow, "ListenOverflows")                                             \
  X(tcp_listen_drop, "ListenDrops")                                                     \
  X(tcp_syn_queue_full, "TCPReqQFullDrop")                                              \
  X(tcp_syncookie_failed, "SyncookiesFailed")                                           \
  X(tcp_bad_ack, "TcpBadAck")                                                           \
  X(tcp_out_of_window, "TCPOFODrop")                                                    \
  X(tcp_bad_syn, "TcpBadSyn")                                                           \
  X(tcp_rst_ignored, "TcpRstIgnored")                                                   \
  X(tcp_bad_state, "TcpBadState")                                                       \
  X(tcp_paws_estab, "TcpExtPAWSEstab") /* RFC 7323 5: old timestamp */                   \
  X(tcp_ofo_full, "TcpOFOFull") /* out-of-order data the bounded queue cannot hold */     \
  X(tcp_rcvbuf_full, "TcpExtTCPRcvQDrop") /* data beyond the receive buffer */            \
  X(tcp_data_after_close, "TcpDataAfterClose") /* data after our FIN was read */          \
  /* Output */                                                                          \
  X(tx_queue_full, "TxQueueFull")                                                       \
  X(neighbor_queue_full, "NeighQueueFull")                                              \
  X(neighbor_unresolved, "NeighUnresolved")                                             \
  X(ip_out_no_routes, "IpOutNoRoutes") /* off the subnet and no gateway */         \
  X(ip_out_too_big, "IpOutTooBig") /* a segment over the MTU: never built by TCP */

enum class drop : std::uint8_t {
#define CORONET_X(id, name) id,
  CORONET_DROP_REASONS(CORONET_X)
#undef CORONET_X
      count_
};

inline constexpr std::size_t drop_count = static_cast<std::size_t>(drop::count_);

constexpr std::string_view drop_name(drop d) {
  switch (d) {
#define CORONET_X(id, name) \
  case drop::id:            \
    return name;
    CORONET_DROP_REASONS(CORONET_X)
#undef CORONET_X
    case drop::count_:
      break;
  }
  return "?";
}

}  // namespace coronet
