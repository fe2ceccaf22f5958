// proto/tcp/layer.cpp - tcp::layer: segment dispatch (connection, request
// entry, listener, closed port), the timer heap, and the socket calls.
#include "proto/tcp/layer.hpp"

#include <algorithm>
#include <utility>

#include "proto/tcp/layer_impl.hpp"
#include "proto/tcp/seq.hpp"

namespace coronet::tcp {

namespace tf = wire::tcp_flag;

layer::impl::impl(const settings& s, ipv4_addr local_, std::uint16_t mss_, std::uint64_t seed, counters& st,
                  ip_output& o, event_sink& ev)
    : cfg(s), local(local_), mss(mss_), stats(st), out(o), events(ev), isn(seed), cookies(seed), ports(seed),
      timers(1024), rcv_wscale(wscale_for(static_cast<std::size_t>(std::max(s.tcp_rmem, 1)))) {
  tx_waiters.reserve(64);
}

connection* layer::impl::find(conn_id id) const {
  if (id != hot_id || hot_conn == nullptr) {
    auto it = conns.find(id);
    if (it == conns.end()) return nullptr;
    hot_id = id;
    hot_conn = it->second.get();
  }
  return hot_conn->released ? nullptr : hot_conn;
}

listener_state* layer::impl::find_listener(listener_id id) {
  auto it = listener_ports.find(id);
  if (it == listener_ports.end()) return nullptr;
  auto lit = listeners.find(it->second);
  return lit == listeners.end() ? nullptr : &lit->second;
}

void layer::impl::notify(connection& c, event::kind k, std::errc e) {
  // Connections still in an accept queue stay silent: whoever accepts one
  // checks recv()/at_eof()/error() first.
  if (!c.accepted || c.released) return;
  event ev{};
  ev.what = k;
  ev.conn = c.id;
  ev.error = e;
  events.push(ev);
}

connection& layer::impl::new_connection(const four_tuple& t, tcp_state st) {
  auto owned = std::make_unique<connection>();
  connection& c = *owned;
  c.id = next_conn++;
  c.tuple = t;
  c.state = st;
  c.rto = cfg.tcp_rto_initial;
  c.rcv_mss = mss;
  c.sndbuf = ring_buffer(static_cast<std::size_t>(std::max(cfg.tcp_wmem, 1)));
  c.rcvbuf = ring_buffer(static_cast<std::size_t>(std::max(cfg.tcp_rmem, 1)));
  by_tuple[t] = &c;
  c.in_table = true;
  conns.emplace(c.id, std::move(owned));
  return c;
}

duration layer::impl::backoff(int retries) const {
  // RFC 6298 5.5: double per retry, capped at tcp_rto_max.
  duration d = cfg.tcp_rto_initial;
  for (int i = 0; i < retries && d < cfg.tcp_rto_max; ++i) d *= 2;
  return std::min<duration>(d, cfg.tcp_rto_max);
}

// --- layer ---

layer::layer(const settings& s, ipv4_addr local, std::uint16_t mss, std::uint64_t seed, counters& stats,
             ip_output& out, event_sink& events)
    : p_(std::make_unique<impl>(s, local, mss, seed, stats, out, events)) {}

layer::~layer() = default;

void layer::on_segment(const wire::ipv4_header& ip, const wire::tcp_view& seg, time_point now) {
  impl& L = *p_;
  const wire::tcp_header& h = seg.header();
  L.stats.bump(counter::tcp_in_segs);
  four_tuple t{ip.dst, h.dst_port, ip.src, h.src_port};
  auto seg_len = static_cast<std::uint32_t>(seg.payload().size() + ((h.flags & tf::syn) ? 1 : 0) +
                                            ((h.flags & tf::fin) ? 1 : 0));
  segment_in s{h, seg.payload(), t, seg_len};
  if (L.observer) {
    L.observer->on_segment(segment_observer::direction::in, now,
                           summarize(t.remote(), t.local(), h, seg.payload().size()));
  }
  if (h.src_port == 0 || h.dst_port == 0) {
    L.stats.bump(drop::tcp_bad_port);
    return;
  }
  connection* hot = L.hot_tuple_conn;
  if (hot == nullptr || !(hot->tuple == t)) {
    auto it = L.by_tuple.find(t);
    hot = it == L.by_tuple.end() ? nullptr : it->second;
    if (hot != nullptr) L.hot_tuple_conn = hot;
  }
  if (hot != nullptr) {
    connection& c = *hot;
    if (c.state == tcp_state::syn_sent)
      L.syn_sent_input(c, s, now);
    else
      L.sync_input(c, s, now);
    return;
  }
  if (auto it = L.requests.find(t); it != L.requests.end()) {
    L.request_input(it->second, s, now);
    return;
  }
  if (auto it = L.listeners.find(h.dst_port); it != L.listeners.end()) {
    L.listen_input(it->second, s, now);
    return;
  }
  // RFC 9293 3.10.7.1: CLOSED - answer with a RST (never to a RST).
  L.stats.bump(drop::tcp_no_socket);
  L.send_reset_reply(s, now);
}

void layer::on_timer(time_point now) {
  impl& L = *p_;
  // Bounded: every handler sets its next deadline after `now`.
  for (std::size_t guard = 0; !L.timers.empty() && L.timers.top().when <= now && guard < (1u << 24); ++guard) {
    timer_entry e = L.timers.pop();
    connection* c = nullptr;
    request_entry* r = nullptr;
    if (e.conn) {
      auto it = L.conns.find(e.conn);
      if (it == L.conns.end()) continue;
      c = it->second.get();
    } else {
      auto it = L.requests.find(e.req);
      if (it == L.requests.end()) continue;
      r = &it->second;
    }
    timer_slot& slot = c ? c->timer : r->timer;
    if (slot.armed != e.when) continue;  // superseded by an earlier entry
    slot.armed = no_deadline;
    if (slot.deadline == no_deadline) continue;
    if (slot.deadline > now) {  // moved later since: wait again
      L.timers.set(slot, slot.deadline, e.conn, e.req);
      continue;
    }
    slot.deadline = no_deadline;
    if (c)
      L.conn_timer(*c, now);
    else
      L.request_timer(*r, now);
  }
}

std::optional<time_point> layer::next_deadline() const {
  if (p_->timers.empty()) return std::nullopt;
  return p_->timers.top().when;
}

void layer::on_tx_space(time_point now) {
  impl& L = *p_;
  std::size_t n = L.tx_waiters.size();
  for (std::size_t i = 0; i < n && i < L.tx_waiters.size(); ++i) {
    auto it = L.conns.find(L.tx_waiters[i]);
    if (it == L.conns.end()) continue;
    it->second->tx_blocked = false;
  }
  for (std::size_t i = 0; i < n && i < L.tx_waiters.size(); ++i) {
    auto it = L.conns.find(L.tx_waiters[i]);
    if (it == L.conns.end() || it->second->tx_blocked) continue;
    L.transmit(*it->second, now);
  }
  // Connections blocked again re-added themselves after the first n.
  L.tx_waiters.erase(L.tx_waiters.begin(), L.tx_waiters.begin() + static_cast<std::ptrdiff_t>(n));
}

void layer::on_neighbor_failed(ipv4_addr dst, time_point now) { p_->neighbor_failed(dst, now); }

result<listener_id, std::errc> layer::listen(std::uint16_t port, int backlog) { return p_->listen(port, backlog); }
void layer::close_listener(listener_id l, time_point now) { p_->close_listener(l, now); }
std::optional<conn_id> layer::accept(listener_id l) { return p_->accept(l); }
result<conn_id, std::errc> layer::connect(endpoint remote, time_point now) { return p_->connect(remote, now); }
std::size_t layer::send(conn_id c, bytes data, time_point now) { return p_->send(c, data, now); }
std::size_t layer::recv(conn_id c, mut_bytes out, time_point now) { return p_->recv(c, out, now); }

bool layer::at_eof(conn_id id) const {
  const connection* c = p_->find(id);
  return c && c->fin_received && c->rcvbuf.empty();
}

std::errc layer::error(conn_id id) const {
  const connection* c = p_->find(id);
  return c ? c->err : std::errc{};
}

void layer::shutdown_send(conn_id c, time_point now) { p_->shutdown_send(c, now); }
void layer::close(conn_id c, time_point now) { p_->close(c, now); }
void layer::abort(conn_id c, time_point now) { p_->abort(c, now); }

std::optional<conn_info> layer::info(conn_id id) const {
  const connection* c = p_->find(id);
  if (!c) return std::nullopt;
  conn_info i;
  i.state = c->state;
  i.local = c->tuple.local();
  i.remote = c->tuple.remote();
  i.snd_mss = c->snd_mss;
  i.rcv_mss = c->rcv_mss;
  i.snd_wscale = c->wscale_ok ? c->snd_wscale : -1;
  i.rcv_wscale = c->wscale_ok ? c->rcv_wscale : -1;
  i.timestamps = c->ts_ok;
  i.sack_permitted = c->sack_ok;
  i.iss = c->iss;
  i.irs = c->irs;
  i.bytes_sent = c->bytes_sent;
  i.bytes_received = c->bytes_received;
  if (c->cc) {
    i.congestion_control = c->cc->name();
    i.cwnd = c->cc->cwnd();
    i.ssthresh = c->cc->ssthresh();
  }
  static constexpr std::string_view ca_names[] = {"open", "disorder", "recovery", "loss"};
  i.ca_state = ca_names[static_cast<int>(c->ca)];
  i.snd_wnd = c->snd_wnd;
  i.rcv_wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
  if (c->rtt.has_sample()) {
    i.srtt = c->rtt.srtt();
    i.rttvar = c->rtt.rttvar();
    i.min_rtt = c->rtt.min_rtt();
  }
  i.rto = c->rto;
  i.unacked = static_cast<std::uint32_t>(c->txq.size());
  i.sacked = c->sacked_out;
  i.lost = c->lost_out;
  i.retrans = c->retrans_out;
  i.in_flight = c->in_flight();
  i.backoff = c->retries;
  i.reordering_seen = c->reordering_seen;
  if (c->sndbuf.has_storage()) i.send_queue = c->sndbuf.size();
  if (c->rcvbuf.has_storage()) i.recv_queue = c->rcvbuf.size();
  i.sndbuf = c->sndbuf.capacity();
  i.rcvbuf = c->rcvbuf.capacity();
  i.nodelay = !c->nagle;
  i.keepalive = c->keepalive;
  const conn_stats& st = c->st;
  i.segs_in = st.segs_in;
  i.segs_out = st.segs_out;
  i.data_segs_in = st.data_segs_in;
  i.data_segs_out = st.data_segs_out;
  i.retrans_segs = st.retrans_segs;
  i.retrans_bytes = st.retrans_bytes;
  i.rto_expiries = st.rto_expiries;
  i.fast_retrans = st.fast_retrans;
  i.tlp_probes = st.tlp_probes;
  i.sack_recoveries = st.sack_recoveries;
  i.reno_recoveries = st.reno_recoveries;
  i.ofo_segs = st.ofo_segs;
  i.dup_segs_in = st.dup_segs_in;
  i.dsacks_in = st.dsacks_in;
  i.dup_acks_in = st.dup_acks_in;
  i.win_probes = st.win_probes;
  i.zero_window_adv = st.zero_window_adv;
  i.challenge_acks = st.challenge_acks;
  i.bytes_acked = st.bytes_acked;
  i.delivered = st.delivered;
  return i;
}

void layer::set_nodelay(conn_id id, bool on) {
  if (connection* c = p_->find(id)) c->nagle = !on;
}

void layer::set_keepalive(conn_id id, bool on, time_point now) {
  connection* c = p_->find(id);
  if (!c) return;
  c->keepalive = on;
  c->keepalive_probes_out = 0;
  c->keepalive_at = on ? std::max(now, c->last_recv) + p_->cfg.tcp_keepalive_time : no_deadline;
  p_->rearm(*c);
}

void layer::set_observer(segment_observer* o) { p_->observer = o; }
void layer::set_fast_paths(bool on) { p_->fast_paths = on; }

}  // namespace coronet::tcp
