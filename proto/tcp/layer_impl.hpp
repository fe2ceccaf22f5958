// proto/tcp/layer_impl.hpp - the private state of tcp::layer and the functions
// its .cpp files share: output.cpp (building and emitting segments),
// listener.cpp (passive open), active_open.cpp (connect, SYN-SENT),
// established.cpp (synchronized states: ACKs, data), close.cpp (teardown),
// layer.cpp (dispatch, timers, socket calls).
#pragma once

#include <absl/container/flat_hash_map.h>

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

  isn_generator isn;
  syn_cookies cookies;
  port_allocator ports;
  timer_heap timers;
  int rcv_wscale;  // what we offer: from settings.tcp_rmem

  absl::flat_hash_map<conn_id, std::unique_ptr<connection>> conns;
  absl::flat_hash_map<four_tuple, connection*> by_tuple;
  absl::flat_hash_map<four_tuple, request_entry> requests;
  absl::flat_hash_map<std::uint16_t, listener_state> listeners;  // by port
  absl::flat_hash_map<listener_id, std::uint16_t> listener_ports;
  conn_id next_conn = 1;
  listener_id next_listener = 1;
  std::vector<conn_id> tx_waiters;

  // --- lookup and events (layer.cpp) ---
  connection* find(conn_id c) const;        // a live, unreleased id
  listener_state* find_listener(listener_id l);
  void notify(connection& c, event::kind k, std::errc e = {});
  void arm(connection& c, time_point t) { timers.set(c.timer, t, c.id); }
  void disarm(connection& c) { c.timer.deadline = no_deadline; }
  connection& new_connection(const four_tuple& t, tcp_state st);
  duration backoff(int retries) const;

  // --- output.cpp ---
  bool emit(const four_tuple& t, wire::tcp_header& h, bytes p1, bytes p2, time_point now);
  void add_timestamp(const connection& c, wire::tcp_header& h, time_point now) const;
  std::uint16_t advertise(connection& c);  // window field; records rcv_adv
  void send_reset_reply(const segment_in& s, time_point now);  // RFC 9293 3.10.7.1 form
  void send_ack(connection& c, time_point now);
  void send_challenge_ack(connection& c, time_point now);
  void send_rst(connection& c, time_point now);
  void send_syn(connection& c, time_point now);  // SYN, or SYN-ACK in SYN-RECEIVED
  void send_synack(const request_entry& r, time_point now, std::optional<std::uint32_t> tsval = {});
  void transmit(connection& c, time_point now, bool after_timeout = false);
  void window_update(connection& c, time_point now);

  // --- listener.cpp ---
  result<listener_id, std::errc> listen(std::uint16_t port, int backlog);
  void close_listener(listener_id l, time_point now);
  std::optional<conn_id> accept(listener_id l);
  void listen_input(listener_state& l, const segment_in& s, time_point now);
  void request_input(request_entry& r, const segment_in& s, time_point now);
  void conn_request(listener_state& l, const segment_in& s, time_point now);
  bool cookie_ack(listener_state& l, const segment_in& s, time_point now);
  connection* make_child(listener_state& l, const four_tuple& t, std::uint32_t iss, std::uint32_t irs,
                         const peer_syn_options& peer, const segment_in& s);
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
  bool process_ack(connection& c, const segment_in& s, time_point now);
  // False when the connection is gone.
  bool process_data(connection& c, const segment_in& s, time_point now, bool& ack_now);
  std::size_t send(conn_id id, bytes data, time_point now);
  std::size_t recv(conn_id id, mut_bytes buf, time_point now);
  void retransmit_timer(connection& c, time_point now);

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
