#include "net/stack.hpp"

#include <sodium.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <stdexcept>

#include "io/af_packet.hpp"
#include "io/impaired_device.hpp"
#include "io/pcap_writer.hpp"
#include "net/trace.hpp"

namespace coronet::net {

namespace {

std::uint64_t pick_seed(std::uint64_t seed) {
  if (seed != 0) return seed;
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  std::uint64_t v = 0;
  randombytes_buf(&v, sizeof v);
  return v;
}

interface_config make_iface(const stack_config& cfg, const io::device& d) {
  return interface_config{
      .mac = d.mac(), .addr = cfg.addr, .prefix_len = cfg.prefix_len, .gateway = cfg.gateway, .mtu = d.mtu()};
}

template <class T>
void erase_one(std::vector<T*>& v, T* p) {
  auto it = std::find(v.begin(), v.end(), p);
  if (it != v.end()) v.erase(it);
}

}  // namespace

std::unique_ptr<io::device> open_device(rt::scheduler& sched, const stack_config& cfg) {
  if (cfg.backend != "af_packet" && cfg.backend != "af_xdp")
    throw std::runtime_error("unknown backend '" + cfg.backend + "' (available: af_packet, af_xdp)");
  if (cfg.ifname.empty()) throw std::runtime_error("no interface given");
  // Parsed before the device opens, so a bad spec is reported as such even
  // without privileges.
  std::optional<io::impairment> spec;
  if (!cfg.impair.empty()) {
    auto parsed = io::parse_impairment(cfg.impair);
    if (!parsed) throw std::runtime_error(parsed.error());
    spec = *parsed;
  }
  std::unique_ptr<io::device> dev;
  if (cfg.backend == "af_xdp") {
    io::af_xdp_config xc{.ifname = cfg.ifname,
                         .addr = cfg.addr,
                         .mode = cfg.xdp_mode,
                         .bind = cfg.xdp_bind,
                         .queue = cfg.queue,
                         .fill_min = static_cast<unsigned>(cfg.xdp_fill),
                         .busy_poll = sched.busy_poll()};
    dev = std::make_unique<io::af_xdp>(sched.ring(), xc);
  } else {
    dev = std::make_unique<io::af_packet>(sched.ring(), io::af_packet_config{.ifname = cfg.ifname});
  }
  if (spec) return std::make_unique<io::impaired_device>(std::move(dev), *spec);
  return dev;
}

// --- construction ---

stack::stack(rt::scheduler& sched, const stack_config& cfg) : stack(sched, cfg, open_device(sched, cfg), nullptr) {}

stack::stack(rt::scheduler& sched, const stack_config& cfg, std::unique_ptr<io::device> dev)
    : stack(sched, cfg, std::move(dev), nullptr) {}

stack::stack(rt::scheduler& sched, const stack_config& cfg, io::device& dev) : stack(sched, cfg, nullptr, &dev) {}

stack::stack(rt::scheduler& sched, const stack_config& cfg, std::unique_ptr<io::device> owned, io::device* dev)
    : sched_(sched),
      owned_(std::move(owned)),
      dev_(dev != nullptr ? dev : owned_.get()),
      engine_(cfg.tcp, make_iface(cfg, *dev_), pick_seed(cfg.seed)),
      push_each_write_(sched.busy_poll()) {
  if (!cfg.pcap_path.empty()) pcap_ = std::make_unique<io::pcap_writer>(cfg.pcap_path);
  if (cfg.trace) {
    trace_ = std::make_unique<trace_printer>(std::cout);
    add_observer(trace_.get());
  }
  dev_->start(*this);
  // Segments are built straight in the device's TX buffers (one copy from
  // the send buffer); the engine's ring only holds what the device had no
  // buffer for.
  engine_.set_frame_sink(this);
  sched_.add_poller(this);
}

mut_bytes stack::acquire() {
  tx_slot_ = dev_->tx_buffer();
  return tx_slot_;
}

void stack::commit(std::size_t len) {
  if (pcap_) pcap_->write(tx_slot_.first(len));
  dev_->tx_commit(len);
  unflushed_ = true;
  dirty_ = true;  // the next poll flushes
}

stack::~stack() {
  sched_.remove_poller(this);
  engine_.set_observer(nullptr);
  engine_.set_frame_sink(nullptr);
  // Handles and pending operations may outlive the stack (the scheduler
  // destroys suspended tasks after it): cut them loose so they never touch it.
  auto detach = [this](detail::op* o) {
    if (o == nullptr) return;
    if (o->linked) {
      o->linked = false;
      o->ec = make_error(std::errc::operation_canceled);
      sched_.schedule(o->waiter);
    }
    o->owns_conn = false;
    o->st = nullptr;
  };
  for (auto& [id, r] : conns_) {
    if (r.handle != nullptr) r.handle->st_ = nullptr;
    detach(r.taker);
    detach(r.connector);
    detach(r.reader);
    detach(r.writer);
  }
  for (auto& [id, r] : listeners_) {
    if (r.handle != nullptr) r.handle->st_ = nullptr;
    for (auto* o : r.acceptors) detach(o);
  }
  owned_.reset();  // an io_uring device may still deliver frames while it shuts down
}

// --- sockets ---

result<listener> stack::listen(std::uint16_t port, int backlog) {
  auto r = engine_.listen(port, backlog);
  if (!r) return make_error(r.error());
  listeners_.try_emplace(*r);
  return listener(*this, *r, endpoint{engine_.iface().addr, port});
}

void stack::add_observer(segment_observer* o) {
  observers_.list.push_back(o);
  engine_.set_observer(&observers_);
}

void stack::remove_observer(segment_observer* o) {
  erase_one(observers_.list, o);
  if (observers_.list.empty()) engine_.set_observer(nullptr);
}

void stack::observer_fanout::on_segment(direction d, time_point now, const segment_summary& s) {
  for (auto* o : list) o->on_segment(d, now, s);
}

// --- the poller ---

void stack::on_frame(bytes frame, rx_meta meta) {
  if (pcap_) pcap_->write(frame);
  engine_.on_frame(frame, sched_.now(), meta);
  dirty_ = true;
  if (!warned_csum_partial_ && engine_.stats()[drop::tcp_csum_partial] != 0) warn_csum_partial();
}

// Said once: every such segment is lost, and the cause is on the sender.
void stack::warn_csum_partial() {
  warned_csum_partial_ = true;
  std::cerr << "coronet: dropping TCP segments from peers that left their checksum to offload (TcpCsumPartial): "
            << dev_->name()
            << " cannot tell such frames apart (AF_XDP has no TP_STATUS_CSUMNOTREADY). Over veth, turn the "
               "peer's checksum offload off (ethtool -K <peer> tx off) or use --backend af_packet\n";
}

void stack::poll(time_point now) {
  dev_->poll();  // polled devices (memory) deliver to on_frame here
  if (auto d = engine_.next_deadline(); d && *d <= now) {
    engine_.on_timer(now);
    dirty_ = true;
  }
  // Events make ops run engine calls (recv opens the window, send queues
  // data), which make frames and events of their own: go round a few times.
  for (int round = 0; round < 4 && (dirty_ || tx_blocked_); ++round) {
    dirty_ = false;
    flush_tx(now);
    while (auto e = engine_.next_event()) dispatch(*e);
  }
}

// Writes made by the tasks just resumed put their segments straight into
// device buffers (commit); submit them now, one flush for the whole batch,
// rather than after the rest of the loop iteration.
void stack::after_tasks() {
  if (!unflushed_) return;
  unflushed_ = false;
  dev_->flush();
}

std::optional<time_point> stack::next_deadline() const {
  // time_point{} is long past: "poll me again without sleeping".
  if (dirty_ || tx_blocked_ || dev_->rx_ready()) return time_point{};
  return engine_.next_deadline();
}

void stack::flush_tx(time_point now) {
  bool sent = std::exchange(unflushed_, false);
  tx_blocked_ = false;
  while (engine_.has_frames()) {
    mut_bytes buf = dev_->tx_buffer();
    if (buf.empty()) {
      tx_blocked_ = true;  // every buffer in flight; the engine keeps its frames
      break;
    }
    std::size_t n = engine_.next_frame(buf, now);
    if (n == 0) break;
    if (pcap_) pcap_->write(buf.first(n));
    dev_->tx_commit(n);
    sent = true;
  }
  if (sent) dev_->flush();
}

void stack::dispatch(const event& e) {
  using k = event::kind;
  if (e.what == k::acceptable) {
    serve_acceptors(e.listener);
    return;
  }
  conn_rec* r = find(e.conn);
  if (r == nullptr) return;  // released by its stream already, or never taken
  switch (e.what) {
    case k::connected:
      if (r->connector != nullptr) complete(*r->connector, {});
      break;
    case k::connect_failed: {
      r->error = e.error != std::errc{} ? e.error : std::errc::connection_refused;
      r->gone = true;
      if (detail::op* o = r->connector) {
        o->owns_conn = false;  // the engine has let go of it
        complete(*o, make_error(r->error));
      }
      erase(e.conn);
      break;
    }
    case k::readable:
      if (r->reader != nullptr && try_read(*r->reader)) complete(*r->reader, r->reader->ec);
      break;
    case k::writable:
      if (r->writer != nullptr && try_write(*r->writer)) complete(*r->writer, r->writer->ec);
      break;
    case k::reset:
    case k::closed: {
      if (e.what == k::reset) r->error = e.error != std::errc{} ? e.error : std::errc::connection_reset;
      if (e.what == k::closed) r->gone = true;
      // Readers see the error, or the end of the stream; writers the error,
      // or a broken pipe; a connect still waiting hears the failure.
      const std::error_code err = r->error != std::errc{} ? make_error(r->error) : std::error_code{};
      if (detail::op* o = r->connector) {  // no stream yet: the record goes with it
        o->owns_conn = false;
        complete(*o, err ? err : make_error(std::errc::connection_refused));
        erase(e.conn);
        break;
      }
      if (r->reader != nullptr) {
        if (!err) r->reader->done = 0;
        if (err || r->gone || try_read(*r->reader)) complete(*r->reader, err ? err : r->reader->ec);
      }
      if (r->writer != nullptr) complete(*r->writer, err ? err : make_error(std::errc::broken_pipe));
      break;
    }
    case k::acceptable:
      break;
  }
}

// --- operations ---

result<stream> connect_awaitable::await_resume() {
  op_.resumed();
  if (op_.ec) return op_.ec;
  return stream(*op_.st, op_.take_conn());
}

stack::conn_rec* stack::find(conn_id c) {
  if (c == hot_id_ && hot_rec_ != nullptr) return hot_rec_;
  auto it = conns_.find(c);
  if (it == conns_.end()) return nullptr;
  hot_id_ = c;
  hot_rec_ = &it->second;
  return hot_rec_;
}

stack::conn_rec& stack::record(conn_id c) {
  if (conn_rec* r = find(c)) return *r;
  hot_rec_ = nullptr;
  return conns_[c];
}

void stack::erase(conn_id c) {
  hot_rec_ = nullptr;
  conns_.erase(c);
}

bool stack::start(detail::op& o) {
  using k = detail::op::kind;
  switch (o.what) {
    case k::connect: {
      auto r = engine_.connect(o.remote, sched_.now());
      if (!r) {
        o.ec = make_error(r.error());
        return true;
      }
      dirty_ = true;
      adopt(o, *r);
      return false;
    }
    case k::accept: {
      if (!listeners_.contains(o.lst)) {
        o.ec = make_error(std::errc::bad_file_descriptor);
        return true;
      }
      auto c = engine_.accept(o.lst);
      if (!c) return false;
      dirty_ = true;
      adopt(o, *c);
      return true;
    }
    case k::read:
    case k::write: {
      conn_rec* r = find(o.conn);
      if (r == nullptr) {
        o.ec = make_error(std::errc::bad_file_descriptor);
        return true;
      }
      if ((o.what == k::read ? r->reader : r->writer) != nullptr) {
        o.ec = make_error(std::errc::operation_in_progress);  // one read and one write at a time
        return true;
      }
      if (o.what == k::read) return try_read(o);
      const bool finished = try_write(o);
      // Busy-polling spends syscalls on latency: the segments a write built
      // leave now, as the kernel's tcp_push() ends sendmsg(), instead of
      // after the rest of the batch (after_tasks) - which is the writer
      // going on to its next read, worth about 0.1 us per message.
      if (push_each_write_ && unflushed_) {
        unflushed_ = false;
        dev_->flush();
      }
      return finished;
    }
  }
  return true;
}

bool stack::try_read(detail::op& o) {
  conn_rec* r = find(o.conn);
  if (r == nullptr) {
    o.ec = make_error(std::errc::bad_file_descriptor);
    return true;
  }
  if (r->gone) {
    if (r->error != std::errc{}) o.ec = make_error(r->error);
    return true;
  }
  if (o.rbuf.empty()) return true;
  const time_point now = sched_.now();
  if (std::size_t n = engine_.recv(o.conn, o.rbuf, now); n > 0) {
    o.done = n;
    dirty_ = true;  // reading opens the window: maybe a window update to send
    return true;
  }
  if (std::errc err = engine_.error(o.conn); err != std::errc{}) {
    o.ec = make_error(err);
    return true;
  }
  return engine_.at_eof(o.conn);  // 0: the end of the stream
}

bool stack::try_write(detail::op& o) {
  conn_rec* r = find(o.conn);
  if (r == nullptr) {
    o.ec = make_error(std::errc::bad_file_descriptor);
    return true;
  }
  if (r->error != std::errc{}) {
    o.ec = make_error(r->error);
    return true;
  }
  if (r->gone || r->shut_wr) {
    o.ec = make_error(std::errc::broken_pipe);
    return true;
  }
  if (std::errc err = engine_.error(o.conn); err != std::errc{}) {
    o.ec = make_error(err);
    return true;
  }
  const time_point now = sched_.now();
  while (!o.wbuf.empty()) {
    std::size_t n = engine_.send(o.conn, o.wbuf, now);
    if (n == 0) break;  // send buffer full: wait for `writable`
    o.done += n;
    o.wbuf = o.wbuf.subspan(n);
    dirty_ = true;
  }
  return o.wbuf.empty();
}

void stack::link(detail::op& o) {
  using k = detail::op::kind;
  if (o.what == k::accept) {
    listeners_[o.lst].acceptors.push_back(&o);
  } else {
    conn_rec& r = record(o.conn);
    (o.what == k::connect ? r.connector : o.what == k::read ? r.reader : r.writer) = &o;
  }
  o.linked = true;
}

void stack::unlink(detail::op& o) noexcept {
  using k = detail::op::kind;
  if (!o.linked) return;
  o.linked = false;
  if (o.what == k::accept) {
    if (auto it = listeners_.find(o.lst); it != listeners_.end()) erase_one(it->second.acceptors, &o);
    return;
  }
  if (conn_rec* r = find(o.conn)) {
    detail::op*& slot = o.what == k::connect ? r->connector : o.what == k::read ? r->reader : r->writer;
    if (slot == &o) slot = nullptr;
  }
}

void stack::complete(detail::op& o, std::error_code ec) {
  unlink(o);
  o.ec = ec;
  sched_.schedule(o.waiter);
}

void stack::cancel(detail::op& o) noexcept {
  if (!o.linked) return;  // completed first: completion wins
  unlink(o);
  if (o.what == detail::op::kind::connect && o.owns_conn) {
    // Cancelling a connect abandons the attempt (RST if the SYN-ACK arrives).
    o.owns_conn = false;
    release(o.conn, true);
  }
  o.ec = make_error(std::errc::operation_canceled);
  sched_.schedule(o.waiter);
}

void stack::drop_op(detail::op& o) noexcept {
  unlink(o);
  if (o.owns_conn) {
    o.owns_conn = false;
    release(o.conn, true);  // a connection nobody will ever use
  }
}

void stack::adopt(detail::op& o, conn_id c) {
  o.conn = c;
  o.owns_conn = true;
  record(c).taker = &o;
}

void stack::attach(conn_id c, stream* s) noexcept {
  if (conn_rec* r = find(c)) {
    r->handle = s;
    r->taker = nullptr;
  }
}

void stack::attach(listener_id l, listener* h) noexcept {
  if (auto it = listeners_.find(l); it != listeners_.end()) it->second.handle = h;
}

void stack::release(conn_id c, bool abort) noexcept {
  conn_rec* r = find(c);
  if (r == nullptr) return;
  const auto canceled = make_error(std::errc::operation_canceled);
  if (r->reader != nullptr) complete(*r->reader, canceled);
  if (r->writer != nullptr) complete(*r->writer, canceled);
  if (r->connector != nullptr) complete(*r->connector, canceled);
  if (!r->gone) {
    if (abort) {
      engine_.abort(c, sched_.now());
    } else {
      engine_.close(c, sched_.now());
    }
    dirty_ = true;
  }
  erase(c);
}

void stack::shutdown(conn_id c) {
  conn_rec* r = find(c);
  if (r == nullptr || r->gone || r->shut_wr) return;
  r->shut_wr = true;
  engine_.shutdown_send(c, sched_.now());
  dirty_ = true;
}

void stack::serve_acceptors(listener_id l) {
  auto it = listeners_.find(l);
  if (it == listeners_.end()) return;
  auto& waiting = it->second.acceptors;
  while (!waiting.empty()) {
    auto c = engine_.accept(l);
    if (!c) break;
    detail::op* o = waiting.front();
    adopt(*o, *c);
    complete(*o, {});  // unlinks it from `waiting`
  }
}

void stack::close_listener(listener_id l) noexcept {
  auto it = listeners_.find(l);
  if (it == listeners_.end()) return;
  auto waiting = std::move(it->second.acceptors);
  listeners_.erase(it);
  for (auto* o : waiting) {
    o->linked = false;
    o->ec = make_error(std::errc::operation_canceled);
    sched_.schedule(o->waiter);
  }
  engine_.close_listener(l, sched_.now());
  dirty_ = true;
}

// --- statistics ---

void stack::print_stats(std::ostream& out, bool all) const {
  auto line = [&out, all](std::string_view name, std::uint64_t v) {
    if (v == 0 && !all) return;
    out << std::left << std::setw(32) << name << std::right << std::setw(12) << v << '\n';
  };
  engine_.stats().for_each(line);
  const io::device_stats& d = dev_->stats();
  line("DevRxFrames", d.rx_frames);
  line("DevRxBytes", d.rx_bytes);
  line("DevTxFrames", d.tx_frames);
  line("DevTxBytes", d.tx_bytes);
  line("DevRxNoBufs", d.rx_enobufs);
  line("DevRxTruncated", d.rx_truncated);
  line("DevTxRingFull", d.tx_ring_full);
  line("DevRxCsumNotReady", d.rx_csum_not_ready);
  line("DevRxMaxFrame", d.rx_max_frame);
  line("DevTxErrors", d.tx_errors);
  line("DevRxErrors", d.rx_errors);
  dev_->for_each_extra(line);
  if (const auto* imp = dynamic_cast<const io::impaired_device*>(dev_)) {
    const io::impairment_stats& s = imp->impair_stats();
    line("ImpairRxDropped", s.rx.dropped);
    line("ImpairTxDropped", s.tx.dropped);
    line("ImpairRxDuplicated", s.rx.duplicated);
    line("ImpairTxDuplicated", s.tx.duplicated);
    line("ImpairRxReordered", s.rx.reordered);
    line("ImpairTxReordered", s.tx.reordered);
    line("ImpairTxNoBuffer", s.tx.no_buffer);
  }
}

}  // namespace coronet::net
