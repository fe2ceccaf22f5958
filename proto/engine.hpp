// proto/engine.hpp - the sans-I/O protocol engine: Ethernet, ARP, IPv4, ICMP
// echo and TCP for one interface address.
// Bytes and a time go in (on_frame, on_timer, the socket calls); frames, events
// and a deadline come out (next_frame, next_event, next_deadline). It never
// reads a clock, makes a syscall, starts a thread or allocates per frame.
// Single-threaded: one engine per runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>

#include "proto/counters.hpp"
#include "proto/result.hpp"
#include "proto/settings.hpp"
#include "proto/types.hpp"

namespace coronet {

struct interface_config {
  mac_addr mac;
  ipv4_addr addr;
  int prefix_len = 24;
  std::optional<ipv4_addr> gateway;  // next hop for destinations off the subnet
  std::uint16_t mtu = 1500;          // IP MTU; frames are up to mtu + 14 bytes
};

// Per-frame facts the device knows and the bytes do not say.
struct rx_meta {
  // The kernel left the L4 checksum to offload (PACKET_AUXDATA
  // TP_STATUS_CSUMNOTREADY): the TCP checksum field holds only the
  // pseudo-header sum, so it is not verified.
  bool csum_not_ready = false;
};

using listener_id = std::uint32_t;
using conn_id = std::uint64_t;  // never reused within one engine

enum class tcp_state : std::uint8_t {
  closed, listen, syn_sent, syn_received, established, fin_wait_1, fin_wait_2, close_wait, closing,
  last_ack, time_wait,
};
const char* to_string(tcp_state);

struct event {
  enum class kind : std::uint8_t {
    connected,       // connect() reached ESTABLISHED
    connect_failed,  // error: connection_refused, timed_out, host_unreachable
    acceptable,      // a listener's accept queue went from empty to non-empty
    readable,        // data or FIN arrived (recv() returns > 0 or at_eof())
    writable,        // send buffer space freed
    reset,           // an established connection was reset (error: connection_reset) or timed out
    closed,          // the connection is fully closed and its id is gone
  };
  kind what;
  conn_id conn = 0;        // for connection events
  listener_id listener = 0;  // for `acceptable`
  std::errc error{};
};

// A connection's state, options, windows, RTT and counters: what `ss -ti`
// shows for a kernel socket.
struct conn_info {
  tcp_state state = tcp_state::closed;
  endpoint local, remote;
  std::uint16_t snd_mss = 0;  // largest segment we send
  std::uint16_t rcv_mss = 0;  // what we advertised
  int snd_wscale = -1, rcv_wscale = -1;  // -1: window scaling not in use
  bool timestamps = false, sack_permitted = false;
  std::uint32_t iss = 0, irs = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;

  // Congestion control and loss recovery (Linux tcp_info).
  std::string_view congestion_control;  // "cubic", "reno", or empty before ESTABLISHED
  std::string_view ca_state;            // "open", "disorder", "recovery", "loss"
  std::uint32_t cwnd = 0, ssthresh = 0;  // segments
  std::uint32_t snd_wnd = 0, rcv_wnd = 0;  // bytes: the peer's window, the one we advertised
  duration srtt{}, rttvar{}, rto{}, min_rtt{};
  std::uint32_t unacked = 0, sacked = 0, lost = 0, retrans = 0, in_flight = 0;  // segments now
  std::uint32_t backoff = 0;                     // RTO backoffs in a row
  bool reordering_seen = false;
  std::size_t send_queue = 0, recv_queue = 0;   // bytes held: unacknowledged + unsent, unread
  std::size_t sndbuf = 0, rcvbuf = 0;           // buffer capacities
  bool nodelay = true, keepalive = false;

  // Totals over the connection's life.
  std::uint64_t segs_in = 0, segs_out = 0, data_segs_in = 0, data_segs_out = 0;
  std::uint64_t retrans_segs = 0, retrans_bytes = 0, rto_expiries = 0, fast_retrans = 0, tlp_probes = 0;
  std::uint64_t sack_recoveries = 0, reno_recoveries = 0, ofo_segs = 0, dup_segs_in = 0, dsacks_in = 0;
  std::uint64_t dup_acks_in = 0, win_probes = 0, zero_window_adv = 0, challenge_acks = 0;
  std::uint64_t bytes_acked = 0, delivered = 0;
};

struct segment_summary {
  endpoint src, dst;
  std::uint8_t flags = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint16_t window = 0;
  std::uint32_t payload_len = 0;
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> wscale;
  bool sack_permitted = false;
  std::optional<std::uint32_t> tsval, tsecr;
};

// One hook for `--trace` and the demo's step-by-step output. Called
// synchronously for every TCP segment in and out (after parsing, before
// processing for input; as emitted for output).
class segment_observer {
 public:
  virtual ~segment_observer() = default;
  enum class direction { in, out };
  virtual void on_segment(direction d, time_point now, const segment_summary& s) = 0;
};


// Where frames go when they can go straight out: the device's own transmit
// buffers, so a segment is written once, from the send buffer into the frame
// the device sends (net::stack implements it over io::device).
class frame_sink {
 public:
  virtual ~frame_sink() = default;
  // A buffer of at least mtu + 14 bytes for the next frame, or an empty span
  // when none is free (the engine then keeps the frame in its own ring).
  virtual mut_bytes acquire() = 0;
  // The last acquired buffer holds a frame of `len` bytes: send it.
  virtual void commit(std::size_t len) = 0;
};

class engine {
 public:
  // `seed` keys the ISN hash (RFC 6528), the SYN-cookie secret and the port
  // randomisation; the runtime passes fresh randomness, tests a constant.
  engine(const settings& s, const interface_config& iface, std::uint64_t seed);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // --- driving ---
  void on_frame(bytes frame, time_point now, rx_meta meta = {});
  void on_timer(time_point now);                 // fires whatever is due
  std::optional<time_point> next_deadline() const;
  // Writes the next outgoing frame into `out` (at least mtu + 14 bytes) and
  // returns its length, or 0 when there is nothing to send.
  std::size_t next_frame(mut_bytes out, time_point now);
  bool has_frames() const;  // next_frame() would write one
  std::optional<event> next_event();

  // --- sockets ---
  // errc::address_in_use, errc::invalid_argument (port 0).
  result<listener_id, std::errc> listen(std::uint16_t port, int backlog);
  void close_listener(listener_id l, time_point now);  // pending connections are reset
  std::optional<conn_id> accept(listener_id l);         // pops the accept queue

  // Active open. The result is immediate (errc::address_not_available when no
  // ephemeral port is free, errc::network_unreachable with no route); the
  // handshake's outcome arrives as a `connected` or `connect_failed` event.
  result<conn_id, std::errc> connect(endpoint remote, time_point now);

  std::size_t send(conn_id c, bytes data, time_point now);  // bytes queued; 0 when the buffer is full
  std::size_t recv(conn_id c, mut_bytes out, time_point now);
  bool at_eof(conn_id c) const;            // FIN received and all data read
  std::errc error(conn_id c) const;        // why it failed, or errc{}
  void shutdown_send(conn_id c, time_point now);  // FIN after queued data
  void close(conn_id c, time_point now);   // shutdown_send + release the id when done
  void abort(conn_id c, time_point now);   // RST now, release the id
  std::optional<conn_info> info(conn_id c) const;
  // Nagle's algorithm (RFC 9293 3.7.4); off by default, as with TCP_NODELAY.
  void set_nodelay(conn_id c, bool on);
  // SO_KEEPALIVE with tcp_keepalive_time / _intvl / _probes.
  void set_keepalive(conn_id c, bool on, time_point now);

  // --- observing ---
  const counters& stats() const;
  void set_observer(segment_observer* o);  // nullptr to stop
  // TCP's fast paths, on by default (tcp::layer::set_fast_paths).
  void set_fast_paths(bool on);
  // Frames built while a sink is set go straight into its buffers whenever
  // the engine's own ring is empty (order is kept); next_frame() hands out
  // the rest. nullptr: everything waits in the ring for next_frame().
  void set_frame_sink(frame_sink* s);
  const settings& config() const;
  const interface_config& iface() const;

 private:
  struct impl;
  std::unique_ptr<impl> p_;
  // next_deadline()'s answer until a call that can arm or disarm a timer.
  mutable std::optional<time_point> deadline_;
  mutable bool deadline_known_ = false;
};

}  // namespace coronet
