// Teardown between two layers: FIN both ways, TIME-WAIT, simultaneous close,
// orphans, abort.
#include <doctest/doctest.h>

#include "tcp_rig.hpp"

using namespace coronet;
using namespace coronet::test;

TEST_CASE("FIN both ways: data then FIN -> EOF after the data; LAST-ACK, TIME-WAIT, closed events") {
  tcp_pair p;
  auto [c, s] = p.establish();
  CHECK(p.client.L.send(c, pattern(3000), p.now) == 3000);
  p.client.L.shutdown_send(c, p.now);
  CHECK(p.client.L.info(c)->state == tcp_state::fin_wait_1);
  p.pump();
  CHECK(p.client.L.info(c)->state == tcp_state::fin_wait_2);
  CHECK(p.server.L.info(s)->state == tcp_state::close_wait);
  CHECK_FALSE(p.server.L.at_eof(s));  // data still unread
  std::vector<std::uint8_t> got(4000);
  got.resize(p.server.L.recv(s, got, p.now));
  CHECK(got == pattern(3000));
  CHECK(p.server.L.at_eof(s));
  CHECK(p.server.count(event::kind::readable, s) >= 1);
  p.server.L.close(s, p.now);
  p.pump();
  CHECK(p.count_log(tf::fin | tf::ack, server_addr) == 1);
  CHECK(p.server.count(event::kind::closed, s) == 1);
  CHECK_FALSE(p.server.L.info(s));
  CHECK(p.client.L.info(c)->state == tcp_state::time_wait);
  CHECK(p.client.L.at_eof(c));
  p.run_for(59s);
  CHECK(p.client.L.info(c)->state == tcp_state::time_wait);
  p.run_for(2s);
  CHECK(p.client.L.info(c)->state == tcp_state::closed);
  CHECK(p.client.count(event::kind::closed, c) == 0);  // the user still holds the id
  p.client.L.close(c, p.now);
  CHECK(p.client.count(event::kind::closed, c) == 1);
}

TEST_CASE("TIME-WAIT: a retransmitted FIN -> ACKed again") {
  tcp_pair p;
  auto [c, s] = p.establish();
  p.client.L.close(c, p.now);
  p.pump();
  int lost = 0;
  // The client's ACK of the server's FIN is lost once.
  p.lose = [&](const seg_record& r) { return r.src == client_addr && r.is(tf::ack) && lost++ == 0; };
  p.server.L.close(s, p.now);
  p.pump();
  CHECK(p.client.count(event::kind::closed, c) == 1);  // released on entering TIME-WAIT
  CHECK(p.server.count(event::kind::closed, s) == 0);  // still in LAST-ACK
  auto before = p.count_log(tf::ack, client_addr);
  p.run_for(1s);  // the server's RTO resends the FIN
  CHECK(p.count_log(tf::fin | tf::ack, server_addr) == 2);
  CHECK(p.count_log(tf::ack, client_addr) == before + 1);
  CHECK(p.server.count(event::kind::closed, s) == 1);
  // The buffers went with the entry into TIME-WAIT; the re-ACK still
  // advertises the window the lost ACK did (Linux tw_rcv_wnd).
  std::vector<std::uint16_t> windows;
  for (const seg_record& r : p.log)
    if (r.src == client_addr && r.is(tf::ack)) windows.push_back(r.h.window);
  REQUIRE(windows.size() >= 2);
  CHECK(windows.back() == windows[windows.size() - 2]);
  CHECK(windows.back() > 0);
}

TEST_CASE("CLOSING: both sides close at once -> CLOSING, then TIME-WAIT on both") {
  tcp_pair p;
  auto [c, s] = p.establish();
  p.client.L.shutdown_send(c, p.now);
  p.server.L.shutdown_send(s, p.now);
  // Deliver the two FINs crossing: neither has seen the other's ACK yet.
  auto a = p.client.take();
  auto b = p.server.take();
  REQUIRE(a.size() == 1);
  REQUIRE(b.size() == 1);
  p.server.deliver(a[0], p.now);
  p.client.deliver(b[0], p.now);
  CHECK(p.client.L.info(c)->state == tcp_state::closing);
  CHECK(p.server.L.info(s)->state == tcp_state::closing);
  p.pump();
  CHECK(p.client.L.info(c)->state == tcp_state::time_wait);
  CHECK(p.server.L.info(s)->state == tcp_state::time_wait);
}

TEST_CASE("close: unread data -> RST instead of FIN (RFC 2525 2.17)") {
  tcp_pair p;
  auto [c, s] = p.establish();
  p.client.L.send(c, pattern(10), p.now);
  p.pump();
  p.server.L.close(s, p.now);
  CHECK(p.server.count(event::kind::closed, s) == 1);
  p.pump();
  CHECK(p.count_log(tf::rst | tf::ack, server_addr) == 1);
  CHECK(p.client.find(event::kind::reset, c)->error == std::errc::connection_reset);
}

TEST_CASE("FIN-WAIT-2: an orphan whose peer never closes -> gone after tcp_fin_timeout") {
  settings cs;
  cs.tcp_fin_timeout = std::chrono::milliseconds(5000);
  tcp_pair p(cs, {});
  auto [c, s] = p.establish();
  p.client.L.close(c, p.now);
  p.pump();
  CHECK(p.client.count(event::kind::closed, c) == 0);
  p.run_for(4s);
  CHECK(p.client.count(event::kind::closed, c) == 0);
  p.run_for(2s);
  CHECK(p.client.count(event::kind::closed, c) == 1);
  (void)s;
}

TEST_CASE("FIN-WAIT-1: a lost FIN -> retransmitted on the RTO") {
  tcp_pair p;
  auto [c, s] = p.establish();
  int fins = 0;
  p.lose = [&](const seg_record& r) { return r.has(tf::fin) && fins++ == 0; };
  p.client.L.shutdown_send(c, p.now);
  p.pump();
  CHECK(p.client.L.info(c)->state == tcp_state::fin_wait_1);
  p.run_for(1s);
  CHECK(p.client.L.info(c)->state == tcp_state::fin_wait_2);
  CHECK(p.server.L.at_eof(s));
}

TEST_CASE("shutdown_send in SYN-SENT -> FIN right after the handshake") {
  tcp_pair p;
  auto l = p.server.L.listen(80, 4);
  auto c = p.client.L.connect({server_addr, 80}, p.now);
  p.client.L.shutdown_send(*c, p.now);
  p.pump();
  auto s = p.server.L.accept(*l);
  REQUIRE(s);
  CHECK(p.server.L.at_eof(*s));
  CHECK(p.client.L.info(*c)->state == tcp_state::fin_wait_2);
}

TEST_CASE("abort: RST now, id released, closed event; later calls on the id do nothing") {
  tcp_pair p;
  auto [c, s] = p.establish();
  p.client.L.abort(c, p.now);
  CHECK(p.count_log(tf::rst | tf::ack, client_addr) == 0);  // not pumped yet
  auto out = p.client.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::rst | tf::ack));
  CHECK(p.client.count(event::kind::closed, c) == 1);
  CHECK(p.client.L.send(c, pattern(5), p.now) == 0);
  CHECK_FALSE(p.client.L.info(c));
  (void)s;
}

TEST_CASE("TIME-WAIT: a new SYN above RCV.NXT for a listening port reuses the tuple") {
  settings cs;
  cs.ip_local_port_min = cs.ip_local_port_max = 50000;
  tcp_pair p(cs, {});
  auto [c, s] = p.establish();
  p.server.L.close(s, p.now);  // the server closes first: it holds TIME-WAIT
  p.pump();
  p.client.L.close(c, p.now);
  p.pump();
  p.run_for(1s);
  CHECK(p.client.count(event::kind::closed, c) == 1);
  auto c2 = p.client.L.connect({server_addr, 80}, p.now);  // same port 50000, later ISN
  REQUIRE(c2);
  p.pump();
  CHECK(p.client.count(event::kind::connected, *c2) == 1);
  CHECK(p.server.stats[counter::tcp_time_wait_reused] == 1);
}
