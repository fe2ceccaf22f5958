// proto/tcp/listener.cpp - passive open as Linux does it: tcp_v4_conn_request
// (SYN -> request entry + SYN-ACK, or a SYN cookie when the SYN queue is full),
// tcp_check_req (the final ACK turns the entry into a connection on the accept
// queue), inet_csk_accept (accept pops it), reqsk_timer_handler (SYN-ACK
// retransmission and expiry).
#include <algorithm>
#include <chrono>

#include "proto/tcp/layer_impl.hpp"
#include "proto/tcp/seq.hpp"

namespace coronet::tcp {

namespace tf = wire::tcp_flag;

namespace {
// A cookie ACK is only looked for shortly after the SYN queue overflowed
// (Linux tcp_synq_no_recent_overflow); this covers the cookie's lifetime.
constexpr auto cookie_window = std::chrono::seconds(3 * 64);

bool accept_queue_full(const listener_state& l) {
  return static_cast<int>(l.accept_queue.size()) >= l.backlog;
}
}  // namespace

peer_syn_options read_syn_options(const wire::tcp_header& h, const settings& cfg) {
  peer_syn_options p;
  if (h.options.mss && *h.options.mss > 0) p.mss = *h.options.mss;
  // RFC 7323 2.3: a shift above 14 is used as 14.
  if (h.options.window_scale && cfg.tcp_window_scaling) p.wscale = std::min<int>(*h.options.window_scale, 14);
  p.sack = h.options.sack_permitted && cfg.tcp_sack;
  if (h.options.timestamps && cfg.tcp_timestamps) {
    p.ts = true;
    p.ts_recent = h.options.timestamps->tsval;
  }
  return p;
}

// An ACK from a request entry (SYN-RECEIVED): challenge ACKs and answers to
// unacceptable segments.
void layer::impl::send_request_ack(const request_entry& r, time_point now) {
  wire::tcp_header h;
  h.seq = r.iss + 1;
  h.ack = r.irs + 1;
  h.flags = tf::ack;
  int ws = r.peer.wscale >= 0 && cfg.tcp_window_scaling ? rcv_wscale : 0;
  h.window = static_cast<std::uint16_t>(std::min(cfg.tcp_rmem >> ws, 65535));
  if (r.peer.ts && cfg.tcp_timestamps) h.options.timestamps = wire::tcp_timestamps{ts_clock(now), r.peer.ts_recent};
  emit(r.tuple, h, {}, {}, now);
}

result<listener_id, std::errc> layer::impl::listen(std::uint16_t port, int backlog) {
  if (port == 0) return std::errc::invalid_argument;
  if (listeners.contains(port)) return std::errc::address_in_use;
  listener_state l;
  l.id = next_listener++;
  l.port = port;
  // Linux __sys_listen: the backlog is capped at somaxconn.
  l.backlog = std::max(1, std::min(backlog, cfg.somaxconn));
  l.syn_backlog = std::max(1, std::min(l.backlog, cfg.tcp_max_syn_backlog));
  listener_ports.emplace(l.id, port);
  listeners.emplace(port, std::move(l));
  return next_listener - 1;
}

void layer::impl::close_listener(listener_id id, time_point now) {
  auto* l = find_listener(id);
  if (!l) return;
  // Linux inet_csk_listen_stop: connections nobody accepted are reset.
  for (conn_id cid : l->accept_queue) {
    auto it = conns.find(cid);
    if (it == conns.end()) continue;
    connection& c = *it->second;
    if (c.state != tcp_state::closed) send_rst(c, now);
    c.released = true;
    to_closed(c, std::nullopt);
  }
  for (auto it = requests.begin(); it != requests.end();) {
    if (it->second.listener == id)
      requests.erase(it++);
    else
      ++it;
  }
  listeners.erase(l->port);
  listener_ports.erase(id);
}

std::optional<conn_id> layer::impl::accept(listener_id id) {
  auto* l = find_listener(id);
  if (!l) return std::nullopt;
  while (!l->accept_queue.empty()) {
    conn_id cid = l->accept_queue.front();
    l->accept_queue.pop_front();
    auto it = conns.find(cid);
    if (it == conns.end() || it->second->released) continue;
    it->second->accepted = true;
    return cid;
  }
  return std::nullopt;
}

void layer::impl::listen_input(listener_state& l, const segment_in& s, time_point now) {
  // RFC 9293 3.10.7.2, in order: RST, ACK, SYN.
  if (s.has(tf::rst)) {
    stats.bump(drop::tcp_rst_ignored);
    return;
  }
  if (s.has(tf::ack)) {
    // Linux cookie_v4_check: only while SYN cookies may be outstanding.
    if (!s.has(tf::syn) && cfg.tcp_syncookies && l.overflowed && now - l.last_overflow <= cookie_window) {
      cookie_ack(l, s, now);
      return;
    }
    stats.bump(drop::tcp_bad_ack);
    send_reset_reply(s, now);
    return;
  }
  if (s.has(tf::syn)) {
    conn_request(l, s, now);
    return;
  }
  stats.bump(drop::tcp_bad_state);
}

void layer::impl::conn_request(listener_state& l, const segment_in& s, time_point now) {
  // Linux tcp_conn_request: a full accept queue drops the SYN.
  if (accept_queue_full(l)) {
    stats.bump(drop::tcp_listen_overflow);
    stats.bump(drop::tcp_listen_drop);
    return;
  }
  request_entry r;
  r.tuple = s.tuple;
  r.listener = l.id;
  r.irs = s.h.seq;
  r.peer_window = s.h.window;
  r.peer = read_syn_options(s.h, cfg);
  if (l.syn_count >= l.syn_backlog) {
    if (!cfg.tcp_syncookies) {
      stats.bump(drop::tcp_syn_queue_full);
      stats.bump(drop::tcp_listen_drop);
      return;
    }
    // RFC 4987 3.6: answer with a cookie and keep nothing. Without timestamps
    // there is nowhere to keep window scale and SACK: offer neither (Linux
    // tcp_conn_request clears the options when want_cookie && !saw_tstamp).
    std::optional<std::uint32_t> tsval;
    if (r.peer.ts) {
      tsval = cookie_tsval(ts_clock(now), {r.peer.wscale, r.peer.sack});
    } else {
      r.peer.wscale = -1;
      r.peer.sack = false;
    }
    r.iss = cookies.make(s.tuple, r.irs, r.peer.mss, now);
    send_synack(r, now, tsval);
    stats.bump(counter::tcp_syncookies_sent);
    l.overflowed = true;
    l.last_overflow = now;
    return;
  }
  r.iss = cfg.test_isn ? *cfg.test_isn : isn(s.tuple, now);
  auto [it, inserted] = requests.emplace(s.tuple, r);
  if (!inserted) return;
  ++l.syn_count;
  send_synack(it->second, now);
  timers.set(it->second.timer, now + backoff(0), 0, s.tuple);
}

void layer::impl::request_input(request_entry& r, const segment_in& s, time_point now) {
  std::uint32_t rcv_nxt = r.irs + 1;
  auto rcv_wnd = static_cast<std::uint32_t>(cfg.tcp_rmem);
  if (s.has(tf::rst)) {
    // RFC 5961 3.2: exactly RCV.NXT resets; elsewhere in the window gets a
    // challenge ACK; outside it is dropped.
    if (s.h.seq == rcv_nxt) {
      stats.bump(counter::tcp_attempt_fails);
      drop_request(r.tuple);
    } else if (seq_in(s.h.seq, rcv_nxt, rcv_nxt + rcv_wnd)) {
      stats.bump(counter::tcp_challenge_acks);
      send_request_ack(r, now);
    } else {
      stats.bump(drop::tcp_rst_ignored);
    }
    return;
  }
  if (s.has(tf::syn) && !s.has(tf::ack)) {
    if (s.h.seq == r.irs) {
      // Linux tcp_check_req: a retransmitted SYN gets the SYN-ACK again.
      send_synack(r, now);
      stats.bump(counter::tcp_synack_retrans);
      stats.bump(counter::tcp_retrans_segs);
    } else {
      // RFC 5961 4.2: any other SYN gets a challenge ACK.
      stats.bump(counter::tcp_challenge_acks);
      send_request_ack(r, now);
    }
    return;
  }
  if (!s.has(tf::ack)) {
    stats.bump(drop::tcp_bad_state);
    return;
  }
  // RFC 9293 3.10.7.4 (SYN-RECEIVED), Linux tcp_check_req: an ACK other than
  // ISS+1 gets <SEQ=SEG.ACK><CTL=RST>; the entry stays.
  if (s.has(tf::syn) || s.h.ack != r.iss + 1) {
    stats.bump(drop::tcp_bad_ack);
    send_reset_reply(s, now);
    return;
  }
  bool in_window = s.seg_len == 0 ? s.h.seq == rcv_nxt
                                  : seq_in(s.h.seq, rcv_nxt, rcv_nxt + rcv_wnd) ||
                                        seq_in(s.h.seq + s.seg_len - 1, rcv_nxt, rcv_nxt + rcv_wnd);
  if (!in_window) {
    stats.bump(drop::tcp_out_of_window);
    send_request_ack(r, now);
    return;
  }
  auto lit = listeners.find(r.tuple.local_port);
  if (lit == listeners.end()) return;
  listener_state& l = lit->second;
  if (accept_queue_full(l)) {
    // Linux tcp_check_req, listen_overflow: drop the ACK and keep the entry;
    // the client's retransmission or our SYN-ACK retransmit completes it.
    stats.bump(drop::tcp_listen_overflow);
    stats.bump(drop::tcp_listen_drop);
    if (cfg.tcp_abort_on_overflow) {
      send_reset_reply(s, now);
      drop_request(r.tuple);
    }
    return;
  }
  request_entry copy = r;
  drop_request(r.tuple);
  connection* c = make_child(l, copy.tuple, copy.iss, copy.irs, copy.peer, s, now);
  sync_input(*c, s, now);  // the ACK may carry data or a FIN
}

bool layer::impl::cookie_ack(listener_state& l, const segment_in& s, time_point now) {
  std::uint32_t irs = s.h.seq - 1, cookie = s.h.ack - 1;
  auto cookie_mss = cookies.check(s.tuple, irs, cookie, now);
  if (!cookie_mss) {
    // Linux cookie_v4_check fails -> the listener answers the ACK with a RST.
    stats.bump(drop::tcp_syncookie_failed);
    send_reset_reply(s, now);
    return false;
  }
  if (accept_queue_full(l)) {
    stats.bump(drop::tcp_listen_overflow);
    stats.bump(drop::tcp_listen_drop);
    if (cfg.tcp_abort_on_overflow) send_reset_reply(s, now);
    return false;
  }
  peer_syn_options p;
  p.mss = *cookie_mss;
  if (s.h.options.timestamps && cfg.tcp_timestamps) {
    // Linux cookie_timestamp_decode: the options rode in our TSval.
    auto o = cookie_ts_decode(s.h.options.timestamps->tsecr);
    p.ts = true;
    p.ts_recent = s.h.options.timestamps->tsval;
    p.wscale = o.snd_wscale;
    p.sack = o.sack;
  }
  stats.bump(counter::tcp_syncookies_recv);
  connection* c = make_child(l, s.tuple, cookie, irs, p, s, now);
  sync_input(*c, s, now);
  return true;
}

connection* layer::impl::make_child(listener_state& l, const four_tuple& t, std::uint32_t iss,
                                    std::uint32_t irs, const peer_syn_options& peer, const segment_in& s,
                                    time_point now) {
  connection& c = new_connection(t, tcp_state::established);
  c.listener = l.id;
  c.accepted = false;
  c.iss = iss;
  c.irs = irs;
  c.snd_una = c.snd_nxt = c.snd_max = iss + 1;
  c.rcv_nxt = irs + 1;
  apply_peer_options(c, peer);
  c.snd_wnd = static_cast<std::uint32_t>(s.h.window) << c.snd_wscale;
  c.snd_wl1 = s.h.seq;
  c.snd_wl2 = s.h.ack;
  c.rcv_adv = c.rcv_nxt + static_cast<std::uint32_t>(std::min(cfg.tcp_rmem, 65535));
  on_established(c, now);
  stats.bump(counter::tcp_passive_opens);
  l.accept_queue.push_back(c.id);
  if (l.accept_queue.size() == 1) {
    event e{};
    e.what = event::kind::acceptable;
    e.listener = l.id;
    events.push(e);
  }
  return &c;
}

void layer::impl::request_timer(request_entry& r, time_point now) {
  // Linux reqsk_timer_handler: tcp_synack_retries retransmissions with
  // exponential backoff, then the entry goes.
  if (r.retransmits >= cfg.tcp_synack_retries) {
    stats.bump(counter::tcp_req_expired);
    drop_request(r.tuple);
    return;
  }
  send_synack(r, now);
  ++r.retransmits;
  stats.bump(counter::tcp_synack_retrans);
  stats.bump(counter::tcp_retrans_segs);
  timers.set(r.timer, now + backoff(r.retransmits), 0, r.tuple);
}

void layer::impl::drop_request(const four_tuple& t) {
  auto it = requests.find(t);
  if (it == requests.end()) return;
  auto lit = listeners.find(t.local_port);
  if (lit != listeners.end() && lit->second.id == it->second.listener) --lit->second.syn_count;
  requests.erase(it);
}

}  // namespace coronet::tcp
