// proto/engine.cpp - the engine shell: Ethernet in and out, ARP, IPv4, ICMP
// echo, routing to the next hop, the TX ring and the event queue. TCP itself
// lives in proto/tcp/layer.cpp; the shell feeds it parsed segments and sends
// what it emits.
#include "proto/engine.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <vector>

#include "proto/arp/neighbor_cache.hpp"
#include "proto/ipv4_reassembly.hpp"
#include "proto/tcp/layer.hpp"
#include "proto/wire/arp.hpp"
#include "proto/wire/ethernet.hpp"
#include "proto/wire/icmp.hpp"
#include "proto/wire/ipv4.hpp"
#include "proto/wire/tcp.hpp"

namespace coronet {

const char* to_string(tcp_state s) {
  switch (s) {
    case tcp_state::closed: return "CLOSED";
    case tcp_state::listen: return "LISTEN";
    case tcp_state::syn_sent: return "SYN-SENT";
    case tcp_state::syn_received: return "SYN-RECEIVED";
    case tcp_state::established: return "ESTABLISHED";
    case tcp_state::fin_wait_1: return "FIN-WAIT-1";
    case tcp_state::fin_wait_2: return "FIN-WAIT-2";
    case tcp_state::close_wait: return "CLOSE-WAIT";
    case tcp_state::closing: return "CLOSING";
    case tcp_state::last_ack: return "LAST-ACK";
    case tcp_state::time_wait: return "TIME-WAIT";
  }
  return "?";
}

namespace {

constexpr std::size_t eth_len = wire::ethernet_header_len;
constexpr std::size_t eth_min_frame = 60;  // ETH_ZLEN: shorter frames are padded
constexpr std::size_t tx_slots = 256;

// i modulo n for i < 2 * n (a head below n plus a count up to n): a compare,
// not a division, on every frame and event.
std::size_t wrap(std::size_t i, std::size_t n) { return i >= n ? i - n : i; }

// Outgoing frames, copied out by next_frame(). Slots are preallocated; a
// frame is written in place between reserve() and commit().
class tx_ring {
 public:
  tx_ring(std::size_t slots, std::size_t slot_size)
      : slot_size_(slot_size), data_(slots * slot_size), len_(slots) {}

  mut_bytes reserve() {
    if (count_ == len_.size()) return {};
    return slot(wrap(head_ + count_, len_.size()));
  }
  void commit(std::size_t len) {
    assert(count_ < len_.size() && len <= slot_size_);
    len_[wrap(head_ + count_, len_.size())] = len;
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  bytes front() { return slot(head_).first(len_[head_]); }
  void pop() {
    head_ = wrap(head_ + 1, len_.size());
    --count_;
  }

 private:
  mut_bytes slot(std::size_t i) { return mut_bytes(data_.data() + i * slot_size_, slot_size_); }
  std::size_t slot_size_;
  std::vector<std::uint8_t> data_;
  std::vector<std::size_t> len_;
  std::size_t head_ = 0, count_ = 0;
};

// A FIFO over a vector that doubles only when full: no allocation in steady state.
template <class T>
class fifo {
 public:
  explicit fifo(std::size_t cap) : buf_(cap) {}
  void push(const T& v) {
    if (size_ == buf_.size()) grow();
    buf_[wrap(head_ + size_, buf_.size())] = v;
    ++size_;
  }
  std::optional<T> pop() {
    if (size_ == 0) return std::nullopt;
    T v = buf_[head_];
    head_ = wrap(head_ + 1, buf_.size());
    --size_;
    return v;
  }

 private:
  void grow() {
    std::vector<T> bigger(buf_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = buf_[(head_ + i) % buf_.size()];
    buf_.swap(bigger);
    head_ = 0;
  }
  std::vector<T> buf_;
  std::size_t head_ = 0, size_ = 0;
};

}  // namespace

struct engine::impl final : tcp::ip_output, tcp::event_sink, arp::neighbor_cache::hooks {
  impl(const settings& s, const interface_config& ifc, std::uint64_t seed)
      : cfg(s),
        iface(ifc),
        frame_size(iface.mtu + eth_len),
        tx(tx_slots, std::max(frame_size, eth_min_frame)),
        neigh(arp::neighbor_limits::from(cfg, std::max(frame_size, eth_min_frame))),
        events(64),
        reasm(cfg, stats),
        tcp(cfg, iface.addr, static_cast<std::uint16_t>(iface.mtu - 40), seed, stats, *this, *this) {
    unreachable.reserve(16);
  }

  // --- receive ---
  void on_frame(bytes frame, time_point now, rx_meta meta);
  void on_arp(bytes payload, time_point now);
  void on_ipv4(bytes packet, time_point now, rx_meta meta);
  void on_icmp(const wire::ipv4_header& ip, bytes message, time_point now);

  // --- transmit ---
  std::optional<ipv4_addr> route(ipv4_addr dst) const;
  wire::ipv4_header ip_header(ipv4_addr dst, wire::ip_proto proto, std::size_t payload_len) const;
  template <class Build>
  bool output_ip(wire::ipv4_header h, time_point now, Build&& build);
  // output_ip in two halves: route, neighbour, buffer, Ethernet and IPv4
  // headers (h.id is set); then the commit once the L4 bytes are written.
  struct out_slot {
    mut_bytes buf;  // the whole frame
    ipv4_addr next_hop;
    bool send_now = false;  // into the TX ring; else the neighbour's queue
  };
  bool begin_ip(wire::ipv4_header& h, time_point now, out_slot& slot);
  void end_ip(const out_slot& slot, std::size_t l4_len);
  mut_bytes tx_reserve();
  void tx_commit(mut_bytes slot, std::size_t len);
  void send_arp(wire::arp_op op, mac_addr eth_dst, mac_addr tha, ipv4_addr tpa);
  void release_pending(ipv4_addr ip, mac_addr mac);

  // tcp::ip_output
  bool send_segment(ipv4_addr dst, const wire::tcp_header& h, bytes payload, bytes payload2,
                    time_point now) override;
  mut_bytes reserve_segment(ipv4_addr dst, std::size_t len, time_point now) override;
  void commit_segment(std::size_t len) override;
  bool has_route(ipv4_addr dst) const override { return route(dst).has_value(); }
  // tcp::event_sink
  void push(const event& e) override { events.push(e); }
  // neighbor_cache::hooks
  void send_request(ipv4_addr ip) override {
    send_arp(wire::arp_op::request, mac_addr::broadcast(), mac_addr{}, ip);
  }
  void discarded(ipv4_addr, bytes frame) override;
  void failed(ipv4_addr ip) override { note_unreachable(ip); }
  void note_unreachable(ipv4_addr ip) {
    if (std::find(unreachable.begin(), unreachable.end(), ip) == unreachable.end()) unreachable.push_back(ip);
  }

  settings cfg;
  interface_config iface;
  std::size_t frame_size;
  counters stats;
  tx_ring tx;
  bool tx_full_reported = false;
  frame_sink* sink = nullptr;
  out_slot tcp_slot;  // between reserve_segment() and commit_segment()
  wire::tcp_view rx_seg;  // the segment being received (parsed in place)
  bool slot_in_sink = false;  // the slot tx_reserve() returned is the sink's
  arp::neighbor_cache neigh;
  fifo<event> events;
  std::uint16_t ip_id = 0;
  std::vector<ipv4_addr> unreachable;  // destinations whose neighbour failed, this on_timer
  ipv4_reassembly reasm;
  tcp::layer tcp;  // last: it holds references to the members above
};

// ---------------------------------------------------------------- receive

void engine::impl::on_frame(bytes frame, time_point now, rx_meta meta) {
  // No upper bound on the length: over veth the kernel hands TSO super-frames
  // far above the MTU to AF_PACKET (see MEASURED.md).
  auto eth = wire::ethernet_view::parse(frame);
  if (!eth) return stats.bump(eth.error());
  auto h = eth->header();
  if (h.dst != iface.mac && !h.dst.is_broadcast()) return stats.bump(drop::eth_not_for_us);
  switch (static_cast<wire::ethertype>(h.type)) {
    case wire::ethertype::arp: return on_arp(eth->payload(), now);
    case wire::ethertype::ipv4: return on_ipv4(eth->payload(), now, meta);
    default: return stats.bump(drop::eth_unknown_type);
  }
}

// RFC 826 "Packet Reception".
void engine::impl::on_arp(bytes payload, time_point now) {
  auto a = wire::parse_arp(payload);
  if (!a) return stats.bump(a.error());
  stats.bump(a->op == wire::arp_op::request ? counter::arp_in_requests : counter::arp_in_replies);
  bool for_us = a->tpa == iface.addr;
  // Merge: refresh a sender we already know; add it only if we are the target.
  // An RFC 5227 probe (sender 0.0.0.0) and a claim to our own address teach nothing.
  if (a->spa.value != 0 && a->spa != iface.addr && neigh.update(a->spa, a->sha, now, for_us)) {
    release_pending(a->spa, a->sha);
  }
  if (!for_us) return stats.bump(drop::arp_not_for_us);
  if (a->op == wire::arp_op::request) {
    send_arp(wire::arp_op::reply, a->sha, a->sha, a->spa);
    stats.bump(counter::arp_out_replies);
  }
}

void engine::impl::on_ipv4(bytes packet, time_point now, rx_meta meta) {
  stats.bump(counter::ip_in_receives);  // Linux ip_rcv_core(): counted before validation
  auto ip = wire::ipv4_view::parse(packet);
  if (!ip) return stats.bump(ip.error());
  auto h = ip->header();
  if (h.dst != iface.addr) return stats.bump(drop::ipv4_not_for_us);
  if (ip->is_fragment()) {
    // RFC 791 3.2, RFC 1122 3.3.2: hold the pieces; the whole datagram goes on
    // as if it had arrived in one frame (Linux ip_local_deliver() -> ip_defrag()).
    auto whole = reasm.add(*ip, now);
    if (!whole) return;  // held, or dropped and counted
    ip = *whole;
    h = ip->header();
    meta.csum_not_ready = false;  // a fragmenter fills the full L4 checksum first (Linux ip_do_fragment())
  }
  switch (static_cast<wire::ip_proto>(h.proto)) {
    case wire::ip_proto::icmp:
      stats.bump(counter::ip_in_delivers);
      return on_icmp(h, ip->payload(), now);
    case wire::ip_proto::tcp: {
      stats.bump(counter::ip_in_delivers);
      // TP_STATUS_CSUMNOTREADY: the checksum field holds only the pseudo-header sum.
      if (auto bad = wire::tcp_view::parse_into(rx_seg, ip->payload(), h.src, h.dst, !meta.csum_not_ready)) {
        stats.bump(counter::tcp_in_errs);  // Linux tcp_v4_rcv(): bad segments count InErrs too
        return stats.bump(*bad);
      }
      return tcp.on_segment(h, rx_seg, now);
    }
    default:
      return stats.bump(drop::ipv4_unknown_proto);
  }
}

// RFC 792 echo: the reply carries the request's identifier, sequence number
// and data back to its source (Linux icmp_echo()).
void engine::impl::on_icmp(const wire::ipv4_header& ip, bytes message, time_point now) {
  auto m = wire::parse_icmp_echo(message);
  if (!m) return stats.bump(m.error());
  if (m->type != wire::icmp_type::echo_request) return stats.bump(drop::icmp_unsupported);
  stats.bump(counter::icmp_in_echos);
  std::size_t icmp_len = wire::icmp_echo_header_len + m->data.size();
  // Linux would fragment the reply; coronet sends no fragments.
  if (wire::ipv4_min_header_len + icmp_len > iface.mtu) return stats.bump(drop::icmp_echo_too_big);
  wire::icmp_echo reply{wire::icmp_type::echo_reply, m->id, m->seq, m->data};
  wire::ipv4_header h = ip_header(ip.src, wire::ip_proto::icmp, icmp_len);
  h.tos = ip.tos;
  h.dont_fragment = false;
  bool sent = output_ip(h, now, [&](mut_bytes out) { return wire::emit(reply, out); });
  if (sent) stats.bump(counter::icmp_out_echo_reps);
}

// ---------------------------------------------------------------- transmit

// On-link destinations are their own next hop; everything else goes to the
// gateway, if there is one.
std::optional<ipv4_addr> engine::impl::route(ipv4_addr dst) const {
  std::uint32_t mask = prefix_mask(iface.prefix_len);
  if ((dst.value & mask) == (iface.addr.value & mask)) return dst;
  return iface.gateway;
}

mut_bytes engine::impl::tx_reserve() {
  // Straight into the device's buffer when nothing is queued ahead of it.
  slot_in_sink = false;
  if (sink != nullptr && tx.empty()) {
    mut_bytes direct = sink->acquire();
    if (!direct.empty()) {
      slot_in_sink = true;
      return direct;
    }
  }
  mut_bytes slot = tx.reserve();
  if (slot.empty()) {
    stats.bump(drop::tx_queue_full);
    tx_full_reported = true;
  }
  return slot;
}

void engine::impl::tx_commit(mut_bytes slot, std::size_t len) {
  if (len < eth_min_frame) {
    std::memset(slot.data() + len, 0, eth_min_frame - len);
    len = eth_min_frame;
  }
  if (slot_in_sink) {
    slot_in_sink = false;
    sink->commit(len);
    return;
  }
  tx.commit(len);
}

// An outgoing IPv4 header from our address; the id is set on output.
wire::ipv4_header engine::impl::ip_header(ipv4_addr dst, wire::ip_proto proto, std::size_t payload_len) const {
  wire::ipv4_header h;
  h.src = iface.addr;
  h.dst = dst;
  h.proto = static_cast<std::uint8_t>(proto);
  h.ttl = static_cast<std::uint8_t>(cfg.ip_default_ttl);
  h.payload_len = static_cast<std::uint16_t>(payload_len);
  return h;
}

// Routes h.dst, then writes Ethernet, IPv4 (next id) and whatever `build`
// puts after them either into the TX ring (next hop resolved) or into the
// neighbour's pending queue (Linux ip_route_output + neigh_resolve_output() /
// __neigh_event_send()). build(out) returns the L4 length, 0 on failure.
template <class Build>
bool engine::impl::output_ip(wire::ipv4_header h, time_point now, Build&& build) {
  out_slot slot;
  if (!begin_ip(h, now, slot)) return false;
  std::size_t l4 = build(slot.buf.subspan(eth_len + wire::ipv4_min_header_len));
  if (l4 == 0) return false;
  end_ip(slot, l4);
  return true;
}

bool engine::impl::begin_ip(wire::ipv4_header& h, time_point now, out_slot& slot) {
  auto nh = route(h.dst);
  if (!nh) {
    stats.bump(drop::ip_out_no_routes);
    return false;
  }
  const ipv4_addr next_hop = *nh;
  auto d = neigh.resolve(next_hop, now);
  if (d.send_request) send_request(next_hop);
  mut_bytes buf;
  if (d.send_now) {
    buf = tx_reserve();
    if (buf.empty()) return false;
  } else {
    buf = neigh.reserve(next_hop);
    if (buf.empty()) {
      stats.bump(drop::neighbor_queue_full);
      return false;
    }
  }
  // The destination MAC of a queued frame is filled in when ARP answers.
  wire::ethernet_header eh{d.send_now ? d.mac : mac_addr{}, iface.mac,
                           static_cast<std::uint16_t>(wire::ethertype::ipv4)};
  wire::emit(eh, buf);
  h.id = ip_id++;
  if (wire::emit(h, buf.subspan(eth_len)) == 0) return false;
  slot = out_slot{buf, next_hop, d.send_now};
  return true;
}

void engine::impl::end_ip(const out_slot& slot, std::size_t l4_len) {
  std::size_t n = eth_len + wire::ipv4_min_header_len + l4_len;
  if (slot.send_now) {
    tx_commit(slot.buf, n);
  } else {
    neigh.commit(slot.next_hop, n);
  }
  stats.bump(counter::ip_out_requests);
}

void engine::impl::send_arp(wire::arp_op op, mac_addr eth_dst, mac_addr tha, ipv4_addr tpa) {
  mut_bytes buf = tx_reserve();
  if (buf.empty()) return;
  wire::emit(wire::ethernet_header{eth_dst, iface.mac, static_cast<std::uint16_t>(wire::ethertype::arp)}, buf);
  wire::emit(wire::arp_packet{op, iface.mac, iface.addr, tha, tpa}, buf.subspan(eth_len));
  tx_commit(buf, eth_len + wire::arp_packet_len);
  if (op == wire::arp_op::request) stats.bump(counter::arp_out_requests);
}

// The neighbour answered: its queued frames leave in the order they came.
void engine::impl::release_pending(ipv4_addr ip, mac_addr mac) {
  neigh.drain(ip, [&](mut_bytes frame) {
    mut_bytes slot = tx_reserve();
    if (slot.empty()) return;  // counted tx_queue_full; TCP retransmits
    std::copy(mac.b.begin(), mac.b.end(), frame.begin());
    std::copy(frame.begin(), frame.end(), slot.begin());
    tx_commit(slot, frame.size());
  });
}

void engine::impl::discarded(ipv4_addr, bytes frame) {
  stats.bump(drop::neighbor_unresolved);
  // Tell TCP about each destination that was waiting, not only the next hop
  // (which may be the gateway). Linux reports the error per queued skb.
  auto ip = wire::ipv4_view::parse(frame.subspan(eth_len));
  if (ip) note_unreachable(ip->header().dst);
}

bool engine::impl::send_segment(ipv4_addr dst, const wire::tcp_header& th, bytes payload, bytes payload2,
                                time_point now) {
  std::size_t seg_len = wire::tcp_header_len(th) + payload.size() + payload2.size();
  if (wire::ipv4_min_header_len + seg_len > iface.mtu) {
    // TCP sizes segments by the MSS, options included; were one too big, it
    // counts as sent and lost, so the retransmission timer deals with it.
    stats.bump(drop::ip_out_too_big);
    return true;
  }
  wire::ipv4_header h = ip_header(dst, wire::ip_proto::tcp, seg_len);
  h.dont_fragment = true;  // Linux sets DF on TCP (path MTU discovery)
  return output_ip(h, now, [&](mut_bytes out) { return wire::emit(th, payload, iface.addr, dst, out, payload2); });
}

mut_bytes engine::impl::reserve_segment(ipv4_addr dst, std::size_t len, time_point now) {
  // As send_segment; TCP asks only for segments within its MSS, which fit.
  if (wire::ipv4_min_header_len + len > iface.mtu) {
    stats.bump(drop::ip_out_too_big);
    return {};
  }
  wire::ipv4_header h = ip_header(dst, wire::ip_proto::tcp, len);
  h.dont_fragment = true;
  if (!begin_ip(h, now, tcp_slot)) return {};
  return tcp_slot.buf.subspan(eth_len + wire::ipv4_min_header_len, len);
}

void engine::impl::commit_segment(std::size_t len) { end_ip(tcp_slot, len); }

// ---------------------------------------------------------------- engine

engine::engine(const settings& s, const interface_config& iface, std::uint64_t seed)
    : p_(std::make_unique<impl>(s, iface, seed)) {}
engine::~engine() = default;

void engine::on_frame(bytes frame, time_point now, rx_meta meta) {
  deadline_known_ = false;
  p_->on_frame(frame, now, meta);
}

void engine::on_timer(time_point now) {
  deadline_known_ = false;
  p_->unreachable.clear();
  p_->neigh.on_timer(now, *p_);
  // After the cache's walk: TCP may send (an RST, another SYN) and so
  // resolve() again.
  for (ipv4_addr dst : p_->unreachable) p_->tcp.on_neighbor_failed(dst, now);
  p_->unreachable.clear();
  p_->tcp.on_timer(now);
  p_->reasm.on_timer(now);
}

// Asked every loop iteration, and only the calls that mark the cache stale
// (everything that can arm or disarm a timer) change the answer.
std::optional<time_point> engine::next_deadline() const {
  if (deadline_known_) return deadline_;
  // TCP nearly always has a timer; ARP and reassembly rarely do, and say so cheaply.
  std::optional<time_point> t = p_->tcp.next_deadline();
  auto merge = [&t](std::optional<time_point> d) {
    if (d && (!t || *d < *t)) t = d;
  };
  if (p_->neigh.has_timers()) merge(p_->neigh.next_deadline());
  if (p_->reasm.in_progress() != 0) merge(p_->reasm.next_deadline());
  deadline_ = t;
  deadline_known_ = true;
  return t;
}

std::size_t engine::next_frame(mut_bytes out, time_point now) {
  if (p_->tx.empty()) return 0;
  bytes f = p_->tx.front();
  assert(out.size() >= f.size());
  if (out.size() < f.size()) return 0;
  std::copy(f.begin(), f.end(), out.begin());
  std::size_t n = f.size();
  p_->tx.pop();
  if (p_->tx_full_reported) {
    p_->tx_full_reported = false;
    deadline_known_ = false;  // the connections that waited for room send now
    p_->tcp.on_tx_space(now);
  }
  return n;
}

bool engine::has_frames() const { return !p_->tx.empty(); }

std::optional<event> engine::next_event() { return p_->events.pop(); }

result<listener_id, std::errc> engine::listen(std::uint16_t port, int backlog) {
  deadline_known_ = false;
  return p_->tcp.listen(port, backlog);
}
void engine::close_listener(listener_id l, time_point now) {
  deadline_known_ = false;
  p_->tcp.close_listener(l, now);
}
std::optional<conn_id> engine::accept(listener_id l) {
  deadline_known_ = false;
  return p_->tcp.accept(l);
}
result<conn_id, std::errc> engine::connect(endpoint remote, time_point now) {
  deadline_known_ = false;
  return p_->tcp.connect(remote, now);
}
std::size_t engine::send(conn_id c, bytes data, time_point now) {
  deadline_known_ = false;
  return p_->tcp.send(c, data, now);
}
std::size_t engine::recv(conn_id c, mut_bytes out, time_point now) {
  deadline_known_ = false;
  return p_->tcp.recv(c, out, now);
}
bool engine::at_eof(conn_id c) const { return p_->tcp.at_eof(c); }
std::errc engine::error(conn_id c) const { return p_->tcp.error(c); }
void engine::shutdown_send(conn_id c, time_point now) {
  deadline_known_ = false;
  p_->tcp.shutdown_send(c, now);
}
void engine::close(conn_id c, time_point now) {
  deadline_known_ = false;
  p_->tcp.close(c, now);
}
void engine::abort(conn_id c, time_point now) {
  deadline_known_ = false;
  p_->tcp.abort(c, now);
}
void engine::set_nodelay(conn_id c, bool on) {
  deadline_known_ = false;
  p_->tcp.set_nodelay(c, on);
}
void engine::set_keepalive(conn_id c, bool on, time_point now) {
  deadline_known_ = false;
  p_->tcp.set_keepalive(c, on, now);
}

std::optional<conn_info> engine::info(conn_id c) const { return p_->tcp.info(c); }

const counters& engine::stats() const { return p_->stats; }
void engine::set_observer(segment_observer* o) { p_->tcp.set_observer(o); }
void engine::set_fast_paths(bool on) { p_->tcp.set_fast_paths(on); }
void engine::set_frame_sink(frame_sink* s) { p_->sink = s; }
const settings& engine::config() const { return p_->cfg; }
const interface_config& engine::iface() const { return p_->iface; }

}  // namespace coronet
