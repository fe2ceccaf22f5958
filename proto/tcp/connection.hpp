// proto/tcp/connection.hpp - the state TCP keeps: a listener, a request entry
// (a half-open passive connection, small on purpose, as Linux's request_sock)
// and a connection's TCB (RFC 9293 3.3.1, fields named as there and in Linux).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <system_error>

#include "proto/engine.hpp"
#include "proto/tcp/congestion.hpp"
#include "proto/tcp/four_tuple.hpp"
#include "proto/tcp/ring_buffer.hpp"
#include "proto/tcp/rtt.hpp"
#include "proto/tcp/seq_ranges.hpp"
#include "proto/tcp/timer_heap.hpp"
#include "proto/tcp/tx_queue.hpp"

namespace coronet::tcp {

// What the peer's SYN offered.
struct peer_syn_options {
  std::uint16_t mss = 536;  // RFC 9293 3.7.1: 536 when absent
  int wscale = -1;          // -1: not offered
  bool sack = false;
  bool ts = false;
  std::uint32_t ts_recent = 0;
};

struct listener_state {
  listener_id id = 0;
  std::uint16_t port = 0;
  int backlog = 1;        // accept queue bound
  int syn_backlog = 1;    // SYN queue bound: min(backlog, tcp_max_syn_backlog)
  int syn_count = 0;      // request entries held
  std::deque<conn_id> accept_queue;
  time_point last_overflow = time_point::min();  // last SYN answered by a cookie
  bool overflowed = false;
};

struct request_entry {
  four_tuple tuple;
  listener_id listener = 0;
  std::uint32_t iss = 0, irs = 0;
  std::uint16_t peer_window = 0;  // unscaled, from the SYN
  peer_syn_options peer;
  std::uint8_t retransmits = 0;
  timer_slot timer;
};

// Linux's congestion states (tcp_ca_state): Open, Disorder (SACKs or
// duplicate ACKs seen, nothing marked lost), Recovery (fast recovery, RFC 6675
// / RFC 6582), Loss (after an RTO).
enum class ca_state : std::uint8_t { open, disorder, recovery, loss };

// What the retransmission timer slot is armed for (Linux icsk_pending).
enum class xmit_timer : std::uint8_t { none, rto, tlp, reorder, persist };

// Per-connection counters, the numbers `ss -ti` shows.
struct conn_stats {
  // The ones every segment touches, first and together (48 bytes).
  std::uint64_t segs_in = 0, segs_out = 0, data_segs_in = 0, data_segs_out = 0;
  std::uint64_t bytes_acked = 0, delivered = 0;
  std::uint64_t retrans_segs = 0, retrans_bytes = 0, rto_expiries = 0, fast_retrans = 0, tlp_probes = 0;
  std::uint64_t sack_recoveries = 0, reno_recoveries = 0, ofo_segs = 0, dup_segs_in = 0, dsacks_in = 0;
  std::uint64_t dup_acks_in = 0, win_probes = 0, zero_window_adv = 0, challenge_acks = 0;
};

struct connection {
  conn_id id = 0;
  four_tuple tuple;
  tcp_state state = tcp_state::closed;
  listener_id listener = 0;   // passive opens: the listener it came from
  bool accepted = true;       // false while in an accept queue (no events yet)
  bool active_open = false;   // connect() made it: handshake outcome -> connected/connect_failed
  bool released = false;      // close()/abort() called: the id is gone for the user
  bool in_table = false;      // present in the 4-tuple table
  bool closed_sent = false;   // the `closed` event went out

  // RFC 9293 3.3.1 send sequence variables; snd_max is the highest sequence
  // sent (BSD), since a retransmission timeout moves snd_nxt back to snd_una.
  std::uint32_t iss = 0, snd_una = 0, snd_nxt = 0, snd_max = 0, snd_wnd = 0, snd_wl1 = 0, snd_wl2 = 0;
  std::uint32_t max_snd_wnd = 0;  // largest window the peer offered (RFC 5961 5.2, SWS 3.8.6.2.1)
  // Receive sequence variables; rcv_adv is the right edge we advertised.
  std::uint32_t irs = 0, rcv_nxt = 0, rcv_adv = 0;

  std::uint16_t snd_mss = 536, rcv_mss = 536;
  std::uint32_t rcv_mss_seen = 536;  // largest segment received: "full-sized" for delayed ACKs (Linux icsk_ack.rcv_mss)
  int snd_wscale = 0, rcv_wscale = 0;  // both 0 unless window scaling is in effect
  bool wscale_ok = false, sack_ok = false, ts_ok = false;
  std::uint32_t ts_recent = 0;
  time_point ts_recent_at{};  // when ts_recent was taken (RFC 7323 5.5: 24 days)
  std::uint32_t last_ack_sent = 0;  // RFC 7323 4.3 Last.ACK.sent

  ring_buffer sndbuf, rcvbuf;
  bool fin_queued = false;    // shutdown_send(): FIN goes after the queued data
  std::uint32_t fin_seq = 0;  // its sequence number, once queued
  bool fin_received = false;
  bool send_blocked = false;  // send() came up short: `writable` when space frees
  bool tx_blocked = false;    // ip_output refused a segment: retry on_tx_space()
  bool nagle = false;         // Nagle's algorithm (off by default: TCP_NODELAY)
  bool keepalive = false;     // SO_KEEPALIVE
  std::errc err{};

  // --- sender: scoreboard, RTT, congestion (RFC 6675, 6298, 8985, 5681) ---
  tx_queue txq;
  std::uint32_t sacked_out = 0, lost_out = 0, retrans_out = 0;  // segments, as Linux counts them
  std::unique_ptr<congestion_control> cc;
  rtt_estimator rtt{std::chrono::seconds(1), std::chrono::milliseconds(200), std::chrono::seconds(120)};
  ca_state ca = ca_state::open;
  std::uint32_t high_seq = 0;   // recovery point (RFC 6582 "recover")
  std::uint32_t dupacks = 0;    // consecutive duplicate ACKs (RFC 5681)
  bool cwnd_limited = false;    // the last transmit stopped at cwnd
  time_point last_send{};       // for the idle restart (RFC 5681 4.1)
  std::size_t retrans_hint = 0;  // records before this index hold nothing to retransmit
  // RACK (RFC 8985 6.1)
  time_point rack_xmit{};
  std::uint64_t rack_order = 0;  // tie-break for equal send times: the send order, not the sequence
  std::uint64_t xmit_count = 0;  // transmissions so far (tx_seg::xmit_order)
  std::uint32_t rack_end = 0;
  duration rack_rtt{};
  bool rack_valid = false;
  bool reordering_seen = false;
  std::uint32_t reo_wnd_mult = 1, reo_wnd_persist = 0;
  std::uint32_t fack = 0;       // highest sequence SACKed or ACKed
  std::uint32_t tlp_end = 0;    // TLP.end_seq; tlp_out: a probe is outstanding
  bool tlp_out = false;
  std::uint32_t probes = 0;     // zero-window probes without an answer
  bool zero_window_adv = false;  // the last window we advertised was 0
  bool sws_override = false;    // the persist timer lets a small segment go (RFC 9293 3.8.6.2.1)
  bool syn_retransmitted = false;  // Karn: no RTT sample from the handshake
  // PRR (RFC 6937, as Linux runs fast recovery)
  std::uint32_t prr_delivered = 0, prr_out = 0, prior_cwnd = 0, recover_fs = 0;

  // --- receiver: out-of-order data (ofo: at the end), SACK blocks, delayed ACKs ---
  std::array<seq_range, 4> sack_recent{};  // RFC 2018 4: most recent first
  std::uint8_t sack_recent_n = 0;
  std::optional<seq_range> dsack;  // RFC 2883: reported once in the next ACK
  std::optional<std::uint32_t> ofo_fin;  // a FIN seen beyond a hole: its sequence number
  std::uint32_t quickacks = 0;  // segments still ACKed at once (Linux quick-ACK mode)
  bool ack_pending = false;     // received data not yet acknowledged
  time_point delack_at = no_deadline;
  time_point last_oow_ack{};    // tcp_invalid_ratelimit (RFC 5961 7)
  bool oow_ack_sent = false;

  // --- timers: one heap slot, the earliest of these ---
  timer_slot timer;
  xmit_timer xt = xmit_timer::none;
  time_point xmit_at = no_deadline;  // RTO / TLP / RACK reorder / persist
  time_point misc_at = no_deadline;  // handshake retransmission, FIN-WAIT-2, TIME-WAIT
  time_point keepalive_at = no_deadline;
  time_point last_recv{};            // keepalive idle reference
  std::uint8_t retries = 0;          // RTO backoff count (also SYN retries)
  std::uint8_t keepalive_probes_out = 0;
  duration rto{};                    // current RTO including backoff

  std::uint64_t bytes_sent = 0, bytes_received = 0;
  conn_stats st;
  // Last: 264 bytes that in-order traffic only asks "empty?", kept off the
  // cache lines the fields above share.
  seq_ranges<32> ofo;           // out-of-order ranges held in rcvbuf past its readable bytes

  bool fin_acked() const { return fin_queued && seq_gt(snd_una, fin_seq); }
  // RFC 6675 "pipe" (Linux tcp_packets_in_flight), in segments.
  std::uint32_t in_flight() const {
    std::int64_t n = static_cast<std::int64_t>(txq.size()) - sacked_out - lost_out + retrans_out;
    return n > 0 ? static_cast<std::uint32_t>(n) : 0;
  }
};

}  // namespace coronet::tcp
