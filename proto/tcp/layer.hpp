// proto/tcp/layer.hpp - TCP for one local IPv4 address: listeners, the
// handshake in both roles, enough of ESTABLISHED to move data both ways, and
// teardown. Modelled on Linux (tcp_v4_connect, tcp_v4_conn_request,
// tcp_make_synack, tcp_check_req, inet_csk_accept) and RFC 9293.
// The engine shell (proto/engine.cpp) feeds it parsed segments and gives it an
// ip_output to send through; it never touches Ethernet, ARP or a clock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>

#include "proto/counters.hpp"
#include "proto/engine.hpp"
#include "proto/result.hpp"
#include "proto/settings.hpp"
#include "proto/types.hpp"
#include "proto/wire/ipv4.hpp"
#include "proto/wire/tcp.hpp"

namespace coronet::tcp {

// Implemented by the engine shell: wraps a segment in IPv4 and Ethernet,
// resolving the next hop, and queues the frame.
class ip_output {
 public:
  virtual ~ip_output() = default;
  // False when the frame could not be queued (TX ring full, or the
  // neighbour's pending queue full); the shell has counted the drop. TCP treats
  // it as a lost segment (its timers recover) or, for data, retries on
  // on_tx_space().
  virtual bool send_segment(ipv4_addr dst, const wire::tcp_header& h, bytes payload, bytes payload2,
                            time_point now) = 0;
  // The data path's shortcut around send_segment: the `len` bytes of a TCP
  // segment to `dst`, inside a frame whose Ethernet and IPv4 headers are
  // written. TCP fills them (checksum included) and calls commit_segment(len)
  // before anything else is sent. Empty, with the drop counted as
  // send_segment counts it, when the frame cannot be queued. Never larger
  // than the interface MTU allows.
  virtual mut_bytes reserve_segment(ipv4_addr dst, std::size_t len, time_point now) = 0;
  virtual void commit_segment(std::size_t len) = 0;
  // True when `dst` is on the subnet or a gateway is configured.
  virtual bool has_route(ipv4_addr dst) const = 0;
};

// Where TCP reports what the socket layer must hear about.
class event_sink {
 public:
  virtual ~event_sink() = default;
  virtual void push(const event& e) = 0;
};

class layer {
 public:
  // `mss` is what we advertise: interface MTU - 40.
  layer(const settings& s, ipv4_addr local, std::uint16_t mss, std::uint64_t seed, counters& stats,
        ip_output& out, event_sink& events);
  ~layer();
  layer(const layer&) = delete;
  layer& operator=(const layer&) = delete;

  // A segment addressed to our IP, already checksum-verified by the shell.
  void on_segment(const wire::ipv4_header& ip, const wire::tcp_view& seg, time_point now);
  void on_timer(time_point now);
  std::optional<time_point> next_deadline() const;
  // The shell's TX ring has room again: retry data that could not be queued.
  void on_tx_space(time_point now);
  // ARP gave up on `dst`: connects in SYN-SENT towards it fail with
  // errc::host_unreachable (Linux: EHOSTUNREACH after neighbour failure).
  void on_neighbor_failed(ipv4_addr dst, time_point now);

  // The socket calls, with the semantics documented in proto/engine.hpp.
  result<listener_id, std::errc> listen(std::uint16_t port, int backlog);
  void close_listener(listener_id l, time_point now);
  std::optional<conn_id> accept(listener_id l);
  result<conn_id, std::errc> connect(endpoint remote, time_point now);
  std::size_t send(conn_id c, bytes data, time_point now);
  std::size_t recv(conn_id c, mut_bytes out, time_point now);
  bool at_eof(conn_id c) const;
  std::errc error(conn_id c) const;
  void shutdown_send(conn_id c, time_point now);
  void close(conn_id c, time_point now);
  void abort(conn_id c, time_point now);
  std::optional<conn_info> info(conn_id c) const;
  void set_nodelay(conn_id c, bool on);
  void set_keepalive(conn_id c, bool on, time_point now);

  void set_observer(segment_observer* o);
  // The data path's fast paths (on by default, proto/tcp/fast_path.cpp):
  // header prediction on input, and a one-segment transmit on output. Off,
  // every segment takes the general path: for differential tests and A/B
  // timing. Either way the same segments go out.
  void set_fast_paths(bool on);

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

}  // namespace coronet::tcp
