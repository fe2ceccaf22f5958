// proto/tcp/close.cpp - teardown (RFC 9293 3.6, Linux tcp_close /
// tcp_shutdown / tcp_time_wait): FIN after queued data, TIME-WAIT, orphans,
// abort, and the connection timer that drives SYN retransmission too.
#include "proto/tcp/layer_impl.hpp"

namespace coronet::tcp {

void layer::impl::queue_fin(connection& c, time_point now) {
  c.fin_queued = true;
  if (c.state == tcp_state::syn_sent || c.state == tcp_state::syn_received) return;  // sent once established
  c.fin_seq = c.snd_una + static_cast<std::uint32_t>(c.sndbuf.size());
  if (c.state == tcp_state::established)
    c.state = tcp_state::fin_wait_1;
  else if (c.state == tcp_state::close_wait)
    c.state = tcp_state::last_ack;
  transmit(c, now);
}

void layer::impl::shutdown_send(conn_id id, time_point now) {
  connection* c = find(id);
  if (!c || c->fin_queued) return;
  switch (c->state) {
    case tcp_state::syn_sent: case tcp_state::syn_received: case tcp_state::established:
    case tcp_state::close_wait:
      queue_fin(*c, now);
      break;
    default:
      break;
  }
}

void layer::impl::close(conn_id id, time_point now) {
  connection* c = find(id);
  if (!c) return;
  if (c->state == tcp_state::closed) {
    release(*c);
    return;
  }
  if (c->state == tcp_state::syn_sent) {  // Linux tcp_close: nothing to tell the peer yet
    c->released = true;
    to_closed(*c, std::nullopt);
    return;
  }
  if (!c->rcvbuf.empty() && c->state != tcp_state::time_wait) {
    // RFC 2525 2.17, Linux tcp_close: unread data is lost, so say so with a RST.
    abort(id, now);
    return;
  }
  c->released = true;
  if (!c->fin_queued) queue_fin(*c, now);
  if (c->state == tcp_state::fin_wait_2) arm(*c, now + cfg.tcp_fin_timeout);
  if (c->state == tcp_state::time_wait) {
    drop_buffers(*c);
    push_closed(*c);
  }
}

void layer::impl::abort(conn_id id, time_point now) {
  connection* c = find(id);
  if (!c) return;
  switch (c->state) {
    case tcp_state::established: case tcp_state::close_wait:
      stats.bump(counter::tcp_estab_resets);  // Linux tcp_set_state: ESTABLISHED -> CLOSE
      [[fallthrough]];
    case tcp_state::syn_received: case tcp_state::fin_wait_1: case tcp_state::fin_wait_2:
    case tcp_state::closing: case tcp_state::last_ack:
      send_rst(*c, now);  // Linux tcp_disconnect / tcp_need_reset
      break;
    default:
      break;
  }
  c->released = true;
  to_closed(*c, std::nullopt);
}

void layer::impl::enter_time_wait(connection& c, time_point now) {
  c.state = tcp_state::time_wait;
  arm(c, now + cfg.tcp_time_wait);
  if (c.released) {  // the id is gone; the tuple stays reserved
    drop_buffers(c);
    push_closed(c);
  }
}

// Linux tcp_time_wait(): a closed connection waits out TIME-WAIT as a small
// timewait sock. Here the connection stays, but its buffers go: everything
// was sent and acknowledged, and nobody reads any more.
void layer::impl::drop_buffers(connection& c) {
  c.sndbuf.drop_storage();
  c.rcvbuf.drop_storage();
}

void layer::impl::push_closed(connection& c) {
  if (c.closed_sent || !c.accepted) return;
  c.closed_sent = true;
  event e{};
  e.what = event::kind::closed;
  e.conn = c.id;
  events.push(e);
}

void layer::impl::to_closed(connection& c, std::optional<event::kind> why, std::errc e) {
  c.state = tcp_state::closed;
  disarm_all(c);
  if (c.in_table) {
    by_tuple.erase(c.tuple);
    c.in_table = false;
    if (hot_tuple_conn == &c) hot_tuple_conn = nullptr;
  }
  if (e != std::errc{}) c.err = e;
  if (why) notify(c, *why, e);
  if (c.released) release(c);
}

void layer::impl::release(connection& c) {
  c.released = true;
  push_closed(c);
  if (c.state == tcp_state::closed) {
    if (hot_conn == &c) hot_conn = nullptr;
    conns.erase(c.id);  // frees c
  }
}

}  // namespace coronet::tcp
