// proto/counters.hpp - the engine's counters: one per drop reason and one per
// event worth counting, under nstat's names where nstat has one (Tcp*, Ip*,
// Icmp*, TcpExt*), so `--stats` reads like `nstat -a`.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "proto/drop.hpp"

namespace coronet {

#define CORONET_COUNTERS(X)                                                    \
  X(ip_in_receives, "IpInReceives")                                            \
  X(ip_in_delivers, "IpInDelivers")                                            \
  X(ip_out_requests, "IpOutRequests")                                          \
  X(icmp_in_echos, "IcmpInEchos")                                              \
  X(icmp_out_echo_reps, "IcmpOutEchoReps")                                     \
  X(arp_in_requests, "ArpInRequests")                                          \
  X(arp_in_replies, "ArpInReplies")                                            \
  X(arp_out_requests, "ArpOutRequests")                                        \
  X(arp_out_replies, "ArpOutReplies")                                          \
  X(tcp_in_segs, "TcpInSegs")                                                  \
  X(tcp_out_segs, "TcpOutSegs")                                                \
  X(tcp_retrans_segs, "TcpRetransSegs")                                        \
  X(tcp_active_opens, "TcpActiveOpens")                                        \
  X(tcp_passive_opens, "TcpPassiveOpens")                                      \
  X(tcp_attempt_fails, "TcpAttemptFails")                                      \
  X(tcp_estab_resets, "TcpEstabResets")                                        \
  X(tcp_out_rsts, "TcpOutRsts")                                                \
  X(tcp_in_errs, "TcpInErrs")                                                  \
  X(tcp_syncookies_sent, "TcpExtSyncookiesSent")                               \
  X(tcp_syncookies_recv, "TcpExtSyncookiesRecv")                               \
  X(tcp_timeouts, "TcpExtTCPTimeouts")                                         \
  X(tcp_synack_retrans, "TcpExtTCPSynRetrans")                                 \
  X(tcp_challenge_acks, "TcpExtTCPChallengeACK")                               \
  X(tcp_req_expired, "TcpExtTCPReqExpired")                                    \
  X(tcp_time_wait_reused, "TcpExtTWRecycled")                                  \
  /* data transfer */                                                          \
  X(tcp_delayed_acks, "TcpExtDelayedACKs")                                     \
  X(tcp_ofo_queue, "TcpExtTCPOFOQueue")                                        \
  X(tcp_ofo_merge, "TcpExtTCPOFOMerge")                                        \
  X(tcp_dup_acks_in, "TcpExtTCPDupAcksIn") /* coronet: RFC 5681 duplicate ACKs */ \
  X(tcp_dsack_old_sent, "TcpExtTCPDSACKOldSent")                               \
  X(tcp_dsack_ofo_sent, "TcpExtTCPDSACKOfoSent")                               \
  X(tcp_dsack_recv, "TcpExtTCPDSACKRecv")                                      \
  X(tcp_sack_recovery, "TcpExtTCPSackRecovery")                                \
  X(tcp_reno_recovery, "TcpExtTCPRenoRecovery")                                \
  X(tcp_fast_retrans, "TcpExtTCPFastRetrans")                                  \
  X(tcp_slow_start_retrans, "TcpExtTCPSlowStartRetrans")                       \
  X(tcp_lost_retransmit, "TcpExtTCPLostRetransmit")                            \
  X(tcp_loss_probes, "TcpExtTCPLossProbes")                                    \
  X(tcp_loss_probe_recovery, "TcpExtTCPLossProbeRecovery")                     \
  X(tcp_rack_reo_timeouts, "TcpExtTCPRackReoTimeouts") /* coronet */           \
  X(tcp_win_probe, "TcpExtTCPWinProbe")                                        \
  X(tcp_to_zero_window_adv, "TcpExtTCPToZeroWindowAdv")                        \
  X(tcp_from_zero_window_adv, "TcpExtTCPFromZeroWindowAdv")                    \
  X(tcp_keepalive, "TcpExtTCPKeepAlive")                                       \
  X(tcp_abort_on_timeout, "TcpExtTCPAbortOnTimeout")                           \
  X(tcp_abort_on_data, "TcpExtTCPAbortOnData")                                 \
  X(tcp_abort_on_close, "TcpExtTCPAbortOnClose")                               \
  X(tcp_ack_skipped_challenge, "TcpExtTCPACKSkippedChallenge")                 \
  X(tcp_ack_skipped_seq, "TcpExtTCPACKSkippedSeq")                             \
  X(tcp_sndbuf_grows, "TcpExtTCPSndBufGrows") /* coronet: send buffer autotuning steps */ \
  X(tcp_hp_hits, "TcpExtTCPHPHits")   /* data segments taken by header prediction */ \
  X(tcp_hp_acks, "TcpExtTCPHPAcks")   /* pure ACKs taken by header prediction */ \
  X(tcp_fast_xmit, "TcpExtTCPFastXmit") /* coronet: data segments sent by the one-segment transmit */ \
  /* IPv4 reassembly (RFC 791, RFC 1122 3.3.2) */                              \
  X(ip_reasm_reqds, "IpReasmReqds")                                            \
  X(ip_reasm_oks, "IpReasmOKs")

enum class counter : std::uint8_t {
#define CORONET_X(id, name) id,
  CORONET_COUNTERS(CORONET_X)
#undef CORONET_X
      count_
};

inline constexpr std::size_t counter_count = static_cast<std::size_t>(counter::count_);

constexpr std::string_view counter_name(counter c) {
  switch (c) {
#define CORONET_X(id, name) \
  case counter::id:         \
    return name;
    CORONET_COUNTERS(CORONET_X)
#undef CORONET_X
    case counter::count_:
      break;
  }
  return "?";
}

struct counters {
  std::array<std::uint64_t, counter_count> events{};
  std::array<std::uint64_t, drop_count> drops{};

  void bump(counter c, std::uint64_t n = 1) { events[static_cast<std::size_t>(c)] += n; }
  void bump(drop d) { ++drops[static_cast<std::size_t>(d)]; }
  std::uint64_t operator[](counter c) const { return events[static_cast<std::size_t>(c)]; }
  std::uint64_t operator[](drop d) const { return drops[static_cast<std::size_t>(d)]; }
  std::uint64_t total_drops() const {
    std::uint64_t n = 0;
    for (auto v : drops) n += v;
    return n;
  }
  // Calls f(name, value) for every counter, events first, then drops.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < counter_count; ++i) f(counter_name(static_cast<counter>(i)), events[i]);
    for (std::size_t i = 0; i < drop_count; ++i) f(drop_name(static_cast<drop>(i)), drops[i]);
  }
};

}  // namespace coronet
