// proto/tcp/connection.hpp - the state TCP keeps: a listener, a request entry
// (a half-open passive connection, small on purpose, as Linux's request_sock)
// and a connection's TCB (RFC 9293 3.3.1, fields named as there and in Linux).
#pragma once

#include <cstdint>
#include <deque>
#include <system_error>

#include "proto/engine.hpp"
#include "proto/tcp/four_tuple.hpp"
#include "proto/tcp/ring_buffer.hpp"
#include "proto/tcp/timer_heap.hpp"

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
  // Receive sequence variables; rcv_adv is the right edge we advertised.
  std::uint32_t irs = 0, rcv_nxt = 0, rcv_adv = 0;

  std::uint16_t snd_mss = 536, rcv_mss = 536;
  int snd_wscale = 0, rcv_wscale = 0;  // both 0 unless window scaling is in effect
  bool wscale_ok = false, sack_ok = false, ts_ok = false;
  std::uint32_t ts_recent = 0;

  ring_buffer sndbuf, rcvbuf;
  bool fin_queued = false;    // shutdown_send(): FIN goes after the queued data
  std::uint32_t fin_seq = 0;  // its sequence number, once queued
  bool fin_received = false;
  bool send_blocked = false;  // send() came up short: `writable` when space frees
  bool tx_blocked = false;    // ip_output refused a segment: retry on_tx_space()
  std::errc err{};

  timer_slot timer;           // retransmission / TIME-WAIT / FIN-WAIT-2 deadline
  std::uint8_t retries = 0;
  duration rto{};

  std::uint64_t bytes_sent = 0, bytes_received = 0;

  bool fin_acked() const { return fin_queued && snd_una == fin_seq + 1; }
};

}  // namespace coronet::tcp
