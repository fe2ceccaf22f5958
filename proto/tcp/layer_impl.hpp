// proto/tcp/layer_impl.hpp - the private state of tcp::layer and the functions
// its .cpp files share: output.cpp (building and emitting segments),
// listener.cpp (passive open), active_open.cpp (connect, SYN-SENT),
// established.cpp (synchronized states: ACKs, data), ack.cpp (the sender's
// side of an ACK), fast_path.cpp (header prediction, the one-segment
// transmit), close.cpp (teardown), layer.cpp (dispatch, timers, socket
// calls). The steps the general and the fast paths share are inline in
// layer_steps.hpp.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "proto/tcp/connection.hpp"
#include "proto/tcp/isn.hpp"
#include "proto/tcp/layer.hpp"
#include "proto/tcp/ports.hpp"
#include "proto/tcp/syn_cookie.hpp"
#include "proto/tcp/timer_heap.hpp"

namespace coronet::tcp {

// A parsed segment as the state machines see it.
struct segment_in {
  const wire::tcp_header& h;
  bytes payload;
  four_tuple tuple;  // from our point of view: local = destination
  std::uint32_t seg_len;  // payload + SYN + FIN (RFC 9293 3.4)
  bool has(std::uint8_t f) const { return (h.flags & f) != 0; }
};

// Window scale needed to advertise `space` bytes in 16 bits (Linux
// tcp_select_initial_window), clamped to 14 (RFC 7323 2.3).
int wscale_for(std::size_t space);
// The TSval clock: milliseconds of `now` (RFC 7323 5.4).
std::uint32_t ts_clock(time_point now);
// What a segment_observer is shown of a segment from `src` to `dst`.
segment_summary summarize(endpoint src, endpoint dst, const wire::tcp_header& h, std::size_t payload_len);

struct layer::impl {
  impl(const settings& s, ipv4_addr local, std::uint16_t mss, std::uint64_t seed, counters& stats,
       ip_output& out, event_sink& events);

  settings cfg;
  ipv4_addr local;
  std::uint16_t mss;
  counters& stats;
  ip_output& out;
  event_sink& events;
  segment_observer* observer = nullptr;
  bool fast_paths = true;  // fast_path.cpp

  isn_generator isn;
  syn_cookies cookies;
  port_allocator ports;
  timer_heap timers;
  int rcv_wscale;  // what we offer: from settings.tcp_rmem

  absl::flat_hash_map<conn_id, std::unique_ptr<connection>> conns;
  absl::flat_hash_map<four_tuple, connection*> by_tuple;
  // The connection found last by id and by 4-tuple: a request/response
  // exchange asks for the same one many times per segment. Connections are
  // heap objects, so the pointers hold until the entries leave the tables
  // (to_closed / release forget them).
  mutable conn_id hot_id = 0;
  mutable connection* hot_conn = nullptr;
  connection* hot_tuple_conn = nullptr;
  absl::flat_hash_map<four_tuple, request_entry> requests;
  absl::flat_hash_map<std::uint16_t, listener_state> listeners;  // by port
  absl::flat_hash_map<listener_id, std::uint16_t> listener_ports;
  conn_id next_conn = 1;
  listener_id next_listener = 1;
  std::vector<conn_id> tx_waiters;
  // RFC 5961 7 host-wide challenge-ACK budget (tcp_challenge_ack_limit per second).
  std::int64_t challenge_second = -1;
  int challenge_left = 0;

  // --- lookup and events (layer.cpp) ---
  connection* find(conn_id c) const;        // a live, unreleased id
  listener_state* find_listener(listener_id l);
  void notify(connection& c, event::kind k, std::errc e = {});
  // The connection's heap slot holds the earliest of its timers (timers.cpp).
  void rearm(connection& c) {
    time_point t = std::min(std::min(c.xmit_at, c.misc_at), std::min(c.delack_at, c.keepalive_at));
    timers.set(c.timer, t, c.id);
  }
  // The handshake / FIN-WAIT-2 / TIME-WAIT timer.
  void arm(connection& c, time_point t) {
    c.misc_at = t;
    rearm(c);
  }
  void disarm(connection& c) {
    c.misc_at = no_deadline;
    rearm(c);
  }
  void disarm_all(connection& c);
  connection& new_connection(const four_tuple& t, tcp_state st);
  duration backoff(int retries) const;

  // --- output.cpp ---
  bool emit(const four_tuple& t, wire::tcp_header& h, bytes p1, bytes p2, time_point now);
  // A segment of an established connection: ACK, window, timestamps and SACK
  // blocks filled in; a sent ACK clears the delayed-ACK state.
  bool emit_conn(connection& c, wire::tcp_header& h, bytes p1, bytes p2, time_point now);
  void add_sack_blocks(connection& c, wire::tcp_header& h, std::uint32_t room);
  std::uint32_t sack_option_len(const connection& c) const;
  std::uint32_t eff_mss(const connection& c) const;
  // Sends record txq[i] again (fast retransmit, RTO, TLP); false when the TX ring refused it.
  bool retransmit_record(connection& c, std::size_t i, time_point now);
  bool send_new_segment(connection& c, std::uint32_t len, bool fin, time_point now, bool probe = false);
  // After a segment of new data (and FIN) went out: its record, SND.NXT, SND.MAX.
  void record_sent(connection& c, std::uint32_t len, bool fin, bool probe, time_point now);
  // After any segment of the connection went out: it carried the ACK.
  void sent_ack(connection& c, bool data);
  // New data went out: the retransmission timer runs (or the loss probe's is kept).
  void arm_after_send(connection& c, time_point now);
  void send_window_probe(connection& c, time_point now);
  void send_keepalive(connection& c, time_point now);
  void block_tx(connection& c);
  void add_timestamp(const connection& c, wire::tcp_header& h, time_point now) const;
  std::uint16_t advertise(connection& c);  // window field; records rcv_adv
  void send_reset_reply(const segment_in& s, time_point now);  // RFC 9293 3.10.7.1 form
  void send_ack(connection& c, time_point now);
  void send_challenge_ack(connection& c, time_point now);
  void send_rst(connection& c, time_point now);
  void send_syn(connection& c, time_point now);  // SYN, or SYN-ACK in SYN-RECEIVED
  void send_synack(const request_entry& r, time_point now, std::optional<std::uint32_t> tsval = {});
  void transmit(connection& c, time_point now);
  void window_update(connection& c, time_point now);
  bool challenge_allowed(connection& c, time_point now);  // RFC 5961 7 rate limits
  bool oow_allowed(connection& c, time_point now);        // tcp_invalid_ratelimit

  // --- listener.cpp ---
  result<listener_id, std::errc> listen(std::uint16_t port, int backlog);
  void close_listener(listener_id l, time_point now);
  std::optional<conn_id> accept(listener_id l);
  void listen_input(listener_state& l, const segment_in& s, time_point now);
  void request_input(request_entry& r, const segment_in& s, time_point now);
  void conn_request(listener_state& l, const segment_in& s, time_point now);
  bool cookie_ack(listener_state& l, const segment_in& s, time_point now);
  connection* make_child(listener_state& l, const four_tuple& t, std::uint32_t iss, std::uint32_t irs,
                         const peer_syn_options& peer, const segment_in& s, time_point now);
  void request_timer(request_entry& r, time_point now);
  void send_request_ack(const request_entry& r, time_point now);
  void drop_request(const four_tuple& t);

  // --- active_open.cpp ---
  result<conn_id, std::errc> connect(endpoint remote, time_point now);
  void syn_sent_input(connection& c, const segment_in& s, time_point now);
  void neighbor_failed(ipv4_addr dst, time_point now);
  void apply_peer_options(connection& c, const peer_syn_options& p);

  // --- established.cpp ---
  void sync_input(connection& c, const segment_in& s, time_point now);
  // --- fast_path.cpp: header prediction (sync_input's fast path) and the
  // one-segment transmit (transmit's) ---
  bool predicted(const connection& c, const segment_in& s) const;
  void fast_input(connection& c, const segment_in& s, time_point now);
  bool fast_transmit(connection& c, time_point now);  // false: not its case, nothing done
  void on_established(connection& c, time_point now);  // data-transfer state starts
  // False when the connection is gone.
  bool process_data(connection& c, const segment_in& s, time_point now, bool& ack_now);
  // The end of every accepted segment: data going out carries the ACK, or
  // the ACK is sent now or left to the delayed-ACK timer; the timer is rearmed.
  void finish_input(connection& c, bool ack_now, time_point now);
  bool queue_in_order(connection& c, bytes p);  // true when it closed a hole
  void queue_out_of_order(connection& c, std::uint32_t seq, bytes p);
  void note_sack_block(connection& c, seq_range r);
  void trim_sack_blocks(connection& c);
  void receive_fin(connection& c, time_point now);
  std::uint32_t quickack_quota(const connection& c) const;
  std::size_t send(conn_id id, bytes data, time_point now);
  std::size_t recv(conn_id id, mut_bytes buf, time_point now);

  // --- ack.cpp: the sender's side of an ACK (Linux tcp_ack) ---
  // False when the connection is gone.
  bool process_ack(connection& c, const segment_in& s, time_point now);
  void pop_acked(connection& c, std::uint32_t ack, time_point now, std::optional<duration>& rtt_sample);
  // SND.UNA moves to `ack`: the queue and the send buffer give up what it
  // covers, the retry counts and duplicate ACKs start again. Returns the
  // records popped.
  std::size_t advance_una(connection& c, std::uint32_t ack, time_point now, std::optional<duration>& rtt_sample);
  // The send window from `h` if it is newer (RFC 9293 3.10.7.4); true when it changed.
  bool update_window(connection& c, const wire::tcp_header& h);
  // New data ACKed: the RTT sample (or the timestamps' one), the RTO, the
  // retransmission timer.
  void take_rtt(connection& c, const wire::tcp_header& h, std::optional<duration>& rtt_sample, time_point now);
  // Outside recovery: the congestion control hears of `delivered` segments.
  void grow_cwnd(connection& c, std::uint32_t delivered, std::uint32_t prior_in_flight,
                 const std::optional<duration>& rtt_sample, time_point now);
  void room_freed(connection& c);  // the send buffer shrank: grow it, or wake a blocked writer
  void process_sack(connection& c, const wire::tcp_header& h, time_point now);
  void sack_record(connection& c, tx_seg& r, time_point now);
  void rack_update(connection& c, const tx_seg& r, time_point now);
  void rack_detect_loss(connection& c, time_point now);
  void sack_dupthresh_loss(connection& c);
  void mark_lost(connection& c, std::size_t i);
  void enter_recovery(connection& c, std::uint32_t prior_in_flight, time_point now);
  void prr_update(connection& c, std::uint32_t delivered);
  void rearm_xmit(connection& c, time_point now);
  void schedule_loss_probe(connection& c, time_point now);
  void maybe_grow_sndbuf(connection& c);

  // --- timers.cpp ---
  void misc_timer(connection& c, time_point now);
  void xmit_timer_fired(connection& c, time_point now);
  void rto_fired(connection& c, time_point now);
  void tlp_fired(connection& c, time_point now);
  void persist_fired(connection& c, time_point now);
  void delack_fired(connection& c, time_point now);
  void keepalive_fired(connection& c, time_point now);
  void abort_timed_out(connection& c);

  // --- close.cpp ---
  void shutdown_send(conn_id id, time_point now);
  void close(conn_id id, time_point now);
  void abort(conn_id id, time_point now);
  void queue_fin(connection& c, time_point now);
  void drop_buffers(connection& c);
  void enter_time_wait(connection& c, time_point now);
  // Moves to CLOSED: leaves the 4-tuple table, reports `why` (an event for the
  // socket, unless released), frees the object when released.
  void to_closed(connection& c, std::optional<event::kind> why, std::errc e = {});
  void release(connection& c);  // the user is done with the id
  void push_closed(connection& c);
  void conn_timer(connection& c, time_point now);
};

peer_syn_options read_syn_options(const wire::tcp_header& h, const settings& cfg);

}  // namespace coronet::tcp
