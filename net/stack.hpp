// net/stack.hpp - a TCP/IP stack on one interface: what a program creates
// first. It owns the packet device, the protocol engine and the optional pcap
// capture, and plugs them into the scheduler as a poller.
//
//   rt::scheduler sched;
//   net::stack st(sched, {.ifname = "veth0", .addr = *ipv4_addr::parse("198.18.0.2"),
//                         .prefix_len = 24});
//   net::listener l = st.listen(7).value();
//   net::result<net::stream> s = co_await l.accept();   // resumes once ESTABLISHED
//   net::result<net::stream> c = co_await st.connect({peer, 7});
//
// Frames in: the device hands each to on_frame (while the scheduler reaps
// io_uring completions, or in poll() for polled devices), which feeds the
// engine. Every loop iteration poll() fires the engine's due timers, moves
// its frames into device TX buffers, and turns its events into resumed
// coroutines (queued through scheduler::schedule, never resumed inline).
// Segments a write builds go straight into device buffers; the device is
// flushed (for af_xdp: one TX kick) once per batch of resumed coroutines, or,
// when the scheduler busy-polls, at the end of each write.
// Single-threaded: one stack per scheduler thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "io/af_xdp.hpp"
#include "io/device.hpp"
#include "net/error.hpp"
#include "net/listener.hpp"
#include "net/op.hpp"
#include "net/stream.hpp"
#include "proto/engine.hpp"
#include "proto/settings.hpp"
#include "runtime/scheduler.hpp"

namespace coronet::io {
class pcap_writer;
}

namespace coronet::net {

class trace_printer;

struct stack_config {
  std::string ifname;                   // the interface
  std::string backend = "af_packet";    // the packet device: af_packet or af_xdp
  io::xdp_mode xdp_mode = io::xdp_mode::automatic;  // af_xdp: native or generic XDP
  io::xdp_bind xdp_bind = io::xdp_bind::automatic;  // af_xdp: zero-copy or copy
  int queue = -1;                       // af_xdp: -1 every RX queue, else only this one
  int xdp_fill = 0;                     // af_xdp: RX frames in each fill ring at first; 0: the whole ring
  ipv4_addr addr;                       // the address this stack owns
  int prefix_len = 24;
  std::optional<ipv4_addr> gateway;     // next hop off the subnet
  settings tcp;                         // proto/settings.hpp: every knob, Linux defaults
  std::string pcap_path;                // non-empty: capture every frame in and out
  bool trace = false;                   // print every TCP segment to stdout (net/trace.hpp)
  std::uint64_t seed = 0;               // 0: fresh randomness (libsodium)
  std::string impair;  // "" or an io::impairment spec (io/impaired_device.hpp): wraps the device
};

// Opens the packet device cfg.backend names on cfg.ifname ("af_packet" or
// "af_xdp"), wrapped in an io::impaired_device when cfg.impair is set. The
// af_xdp device polls its rings itself when the scheduler busy-polls. Throws
// std::runtime_error naming what is missing or wrong.
std::unique_ptr<io::device> open_device(rt::scheduler& sched, const stack_config& cfg);

// Resolves to the connected stream, or connection_refused / timed_out /
// host_unreachable / network_unreachable / address_not_available /
// operation_canceled (the attempt is aborted).
class [[nodiscard]] connect_awaitable {
 public:
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) { return op_.suspend(h); }
  result<stream> await_resume();

 private:
  friend class stack;
  connect_awaitable(stack& s, endpoint remote) : op_(&s, detail::op::kind::connect) { op_.remote = remote; }
  detail::op op_;
};

class stack final : public rt::poller, private io::rx_sink, private frame_sink {
 public:
  // Opens cfg.backend on cfg.ifname. Throws std::runtime_error with a message
  // naming what is missing (the interface, CAP_NET_RAW, an unknown backend).
  stack(rt::scheduler& sched, const stack_config& cfg);
  // Runs over a device the caller made (tests: a memory_device); the stack
  // owns it, or only borrows it in the second form.
  stack(rt::scheduler& sched, const stack_config& cfg, std::unique_ptr<io::device> dev);
  stack(rt::scheduler& sched, const stack_config& cfg, io::device& dev);
  ~stack();
  stack(const stack&) = delete;
  stack& operator=(const stack&) = delete;

  // Passive open: errc::address_in_use, errc::invalid_argument (port 0).
  result<listener> listen(std::uint16_t port, int backlog = 128);
  // Active open; the SYN schedule (tcp_syn_retries) bounds how long it takes.
  [[nodiscard]] connect_awaitable connect(endpoint remote) { return connect_awaitable(*this, remote); }

  const counters& stats() const { return engine_.stats(); }
  const io::device_stats& device_stats() const { return dev_->stats(); }
  // nstat-like "Name  value" lines: engine counters, drops, then the device's.
  // Zero counters are left out unless `all`.
  void print_stats(std::ostream& out, bool all = false) const;

  // Segment observers (trace printer, handshake steps): any number.
  void add_observer(segment_observer* o);
  void remove_observer(segment_observer* o);

  rt::scheduler& scheduler() noexcept { return sched_; }
  time_point now() const noexcept { return sched_.now(); }
  const interface_config& iface() const { return engine_.iface(); }
  const settings& config() const { return engine_.config(); }
  io::device& device() noexcept { return *dev_; }
  coronet::engine& engine() noexcept { return engine_; }

  // rt::poller
  void poll(time_point now) override;
  std::optional<time_point> next_deadline() const override;
  void after_tasks() override;

 private:
  friend struct detail::op;
  friend class connect_awaitable;
  friend class listener;
  friend class accept_awaitable;
  friend class stream;
  friend class read_awaitable;
  friend class write_awaitable;

  struct conn_rec {
    stream* handle = nullptr;       // the stream that owns the connection
    detail::op* taker = nullptr;    // an op holding it before a stream does
    detail::op* connector = nullptr;
    detail::op* reader = nullptr;
    detail::op* writer = nullptr;
    bool gone = false;     // the engine released the id
    bool shut_wr = false;  // shutdown() called
    std::errc error{};     // reset / failure reason, kept after the id is gone
  };
  struct listener_rec {
    listener* handle = nullptr;
    std::vector<detail::op*> acceptors;  // FIFO
  };
  class observer_fanout final : public segment_observer {
   public:
    void on_segment(direction d, time_point now, const segment_summary& s) override;
    std::vector<segment_observer*> list;
  };

  stack(rt::scheduler& sched, const stack_config& cfg, std::unique_ptr<io::device> owned, io::device* dev);
  void on_frame(bytes frame, rx_meta meta) override;
  void warn_csum_partial();

  // Called by ops and handles. start(): try to finish `o` now (true: done).
  bool start(detail::op& o);
  void link(detail::op& o);
  void unlink(detail::op& o) noexcept;
  void cancel(detail::op& o) noexcept;               // stop token fired
  void complete(detail::op& o, std::error_code ec);  // unlink + schedule
  bool try_read(detail::op& o);
  bool try_write(detail::op& o);
  conn_rec* find(conn_id c);
  conn_rec& record(conn_id c);  // find, or create an empty record
  void erase(conn_id c);
  void drop_op(detail::op& o) noexcept;  // an op's destructor
  void adopt(detail::op& o, conn_id c);  // `o` now holds connection c
  void attach(conn_id c, stream* s) noexcept;        // c's handle is `s` (nullptr: none)
  void attach(listener_id l, listener* h) noexcept;
  void release(conn_id c, bool abort) noexcept;
  void shutdown(conn_id c);
  void close_listener(listener_id l) noexcept;
  void serve_acceptors(listener_id l);

  void flush_tx(time_point now);
  // frame_sink: the engine writes frames into the device's buffers.
  mut_bytes acquire() override;
  void commit(std::size_t len) override;
  void dispatch(const event& e);

  rt::scheduler& sched_;
  std::unique_ptr<io::device> owned_;
  io::device* dev_;
  coronet::engine engine_;
  std::unique_ptr<io::pcap_writer> pcap_;
  std::unique_ptr<trace_printer> trace_;
  observer_fanout observers_;
  absl::flat_hash_map<conn_id, conn_rec> conns_;
  // find()'s last answer: one read or write asks for its record several
  // times. Forgotten whenever conns_ changes shape (an insert may move
  // every record).
  conn_id hot_id_ = 0;
  conn_rec* hot_rec_ = nullptr;
  absl::flat_hash_map<listener_id, listener_rec> listeners_;
  bool dirty_ = false;       // engine calls since the last poll: frames or events may be waiting
  bool unflushed_ = false;   // frames committed straight to the device, not yet flushed
  mut_bytes tx_slot_;        // the device buffer the engine is writing into
  bool tx_blocked_ = false;  // the device had no TX buffer: frames may be waiting
  bool warned_csum_partial_ = false;
  const bool push_each_write_;  // busy-polling: a write flushes its own frames (start())
};

}  // namespace coronet::net
