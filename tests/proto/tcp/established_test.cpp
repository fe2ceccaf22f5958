// Two layers back to back: the handshake, data both ways, loss recovery, the
// RFC 5961 checks and sequence numbers across 2^32.
#include <doctest/doctest.h>

#include "proto/tcp/isn.hpp"
#include "tcp_rig.hpp"

using namespace coronet;
using namespace coronet::test;

namespace {
// Reads everything the host has for `c`, appending to `into`.
void drain(tcp_host& h, conn_id c, std::vector<std::uint8_t>& into, time_point now) {
  std::uint8_t buf[3000];
  for (int i = 0; i < 100000; ++i) {
    std::size_t n = h.L.recv(c, buf, now);
    if (n == 0) return;
    into.insert(into.end(), buf, buf + n);
  }
}

// Sends `data` from a to b, reading on b as it arrives; returns what b read.
std::vector<std::uint8_t> transfer(tcp_pair& p, tcp_host& a, conn_id ca, tcp_host& b, conn_id cb,
                                   const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> got;
  std::size_t sent = 0;
  for (int i = 0; i < 10000 && got.size() < data.size(); ++i) {
    if (sent < data.size()) sent += a.L.send(ca, bytes(data).subspan(sent), p.now);
    p.pump();
    drain(b, cb, got, p.now);
    p.pump();
    if (i % 50 == 49) p.run_for(1s);  // let timers recover anything lost
  }
  return got;
}
}  // namespace

TEST_CASE("ESTABLISHED: handshake between two layers negotiates every option both ways") {
  tcp_pair p;
  auto [c, s] = p.establish();
  auto ci = p.client.L.info(c);
  auto si = p.server.L.info(s);
  CHECK(ci->state == tcp_state::established);
  CHECK(si->state == tcp_state::established);
  CHECK(ci->timestamps);
  CHECK(si->timestamps);
  CHECK(ci->sack_permitted);
  CHECK(ci->snd_wscale == 2);
  CHECK(si->snd_wscale == 2);
  CHECK(ci->iss + 1 == si->irs + 1);
  CHECK(ci->irs == si->iss);
  CHECK(p.count_log(tf::syn, client_addr) == 1);
  CHECK(p.count_log(tf::syn | tf::ack, server_addr) == 1);
}

TEST_CASE("ESTABLISHED: options disabled on one side -> not in effect on either") {
  settings off;
  off.tcp_timestamps = false;
  off.tcp_window_scaling = false;
  off.tcp_sack = false;
  for (int side = 0; side < 2; ++side) {
    tcp_pair p(side == 0 ? off : settings{}, side == 0 ? settings{} : off);
    auto [c, s] = p.establish();
    for (auto i : {p.client.L.info(c), p.server.L.info(s)}) {
      CHECK_FALSE(i->timestamps);
      CHECK_FALSE(i->sack_permitted);
      CHECK(i->snd_wscale == -1);
    }
  }
}

TEST_CASE("ESTABLISHED: data both ways arrives intact, in segments of at most the peer's MSS, within its window") {
  settings small;
  small.tcp_rmem = 5000;  // a small receive window: the sender must wait for it
  tcp_pair p(small, small);
  auto [c, s] = p.establish();
  auto up = pattern(100000, 1);
  auto down = pattern(70000, 2);
  CHECK(transfer(p, p.client, c, p.server, s, up) == up);
  CHECK(transfer(p, p.server, s, p.client, c, down) == down);
  for (auto& r : p.log) {
    CHECK(r.data.size() <= 1460 - 12);  // MSS less the timestamp option
    if (!r.data.empty()) CHECK(r.data.size() <= 5000);
  }
  CHECK(p.client.L.info(c)->bytes_sent == up.size());
  CHECK(p.server.L.info(s)->bytes_received == up.size());
  CHECK(p.client.stats[counter::tcp_retrans_segs] == 0);
}

TEST_CASE("ESTABLISHED: sequence numbers across 2^32 through handshake and data") {
  for (int side = 0; side < 2; ++side) {
    settings cs;
    cs.ip_local_port_min = cs.ip_local_port_max = 50000;  // a known tuple, so a known ISN
    tcp_pair p(cs, {});
    // Pick the clock so that one side's ISS lands 100 below the wrap (RFC 6528 M ticks every 4 us).
    tcp::four_tuple t = side == 0 ? tcp::four_tuple{client_addr, 50000, server_addr, 80}
                                  : tcp::four_tuple{server_addr, 80, client_addr, 50000};
    std::uint32_t f = tcp::isn_generator(side == 0 ? 1 : 2)(t, time_point{});
    std::uint32_t m = 0xffffff9cu - f;
    p.now = time_point{std::chrono::microseconds(std::uint64_t{m} * 4)};
    auto [c, s] = p.establish();
    auto iss = side == 0 ? p.client.L.info(c)->iss : p.server.L.info(s)->iss;
    CHECK(iss == 0xffffff9cu);
    auto data = pattern(20000, 3);
    if (side == 0)
      CHECK(transfer(p, p.client, c, p.server, s, data) == data);
    else
      CHECK(transfer(p, p.server, s, p.client, c, data) == data);
  }
}

TEST_CASE("ESTABLISHED: a lost data segment -> the later ones held out of order, only the hole resent") {
  tcp_pair p;
  auto [c, s] = p.establish();
  int data_segs = 0;
  p.lose = [&](const seg_record& r) { return r.src == client_addr && !r.data.empty() && ++data_segs == 1; };
  auto data = pattern(4000, 5);
  CHECK(p.client.L.send(c, data, p.now) == 4000);
  p.pump();
  p.run_for(1s);
  std::vector<std::uint8_t> got;
  drain(p.server, s, got, p.now);
  CHECK(got == data);
  CHECK(p.server.stats[counter::tcp_ofo_queue] == 2);     // the two segments past the hole were kept
  CHECK(p.client.stats[counter::tcp_retrans_segs] == 1);  // and not sent again
  CHECK(p.client.stats[counter::tcp_timeouts] == 0);      // SACK and RACK found the hole, not the RTO
}

TEST_CASE("ESTABLISHED: no ACKs at all -> RTO backs off, then reset with timed_out after tcp_retries2") {
  settings cs;
  cs.tcp_retries2 = 3;
  tcp_pair p(cs, {});
  auto [c, s] = p.establish();
  p.lose = [](const seg_record&) { return true; };
  CHECK(p.client.L.send(c, pattern(100), p.now) == 100);
  p.run_for(60s);
  auto e = p.client.find(event::kind::reset, c);
  REQUIRE(e);
  CHECK(e->error == std::errc::timed_out);
  CHECK(p.client.stats[counter::tcp_timeouts] == 3);
  (void)s;
}

TEST_CASE("ESTABLISHED: send buffer full -> short send(), writable once ACKs free space") {
  settings cs;
  cs.tcp_wmem = 4000;
  tcp_pair p(cs, {});
  auto [c, s] = p.establish();
  p.lose = [](const seg_record&) { return true; };  // hold the ACKs back
  auto data = pattern(10000);
  CHECK(p.client.L.send(c, data, p.now) == 4000);
  CHECK(p.client.L.send(c, data, p.now) == 0);
  p.pump();
  CHECK(p.client.count(event::kind::writable, c) == 0);
  p.lose = nullptr;
  p.run_for(1s);  // the RTO resends, the ACK comes back
  CHECK(p.client.count(event::kind::writable, c) == 1);
  (void)s;
}

TEST_CASE("ESTABLISHED: ip_output refuses a segment -> sent on on_tx_space") {
  tcp_pair p;
  auto [c, s] = p.establish();
  p.client.out.refuse = 1;
  CHECK(p.client.L.send(c, pattern(100), p.now) == 100);
  CHECK(p.client.out.segs.empty());
  p.client.L.on_tx_space(p.now);
  REQUIRE(p.client.out.segs.size() == 1);
  CHECK(p.client.out.segs[0].data.size() == 100);
  (void)s;
}

TEST_CASE("ESTABLISHED: receive window fills -> zero window; recv() reopens it with a window update") {
  settings ss;
  ss.tcp_rmem = 3000;
  tcp_pair p({}, ss);
  auto [c, s] = p.establish();
  CHECK(p.client.L.send(c, pattern(8000), p.now) == 8000);
  p.pump();
  // Two full segments leave 104 bytes of window: sender SWS avoidance (RFC
  // 9293 3.8.6.2.1) holds them until the persist timer's override sends them.
  CHECK(p.log.back().h.window == 104);
  p.run_for(1s);
  auto last = p.log.back();
  CHECK(last.src == server_addr);
  CHECK(last.h.window == 0);
  std::vector<std::uint8_t> got;
  drain(p.server, s, got, p.now);
  p.pump();
  drain(p.server, s, got, p.now);
  p.pump();
  drain(p.server, s, got, p.now);
  p.pump();
  drain(p.server, s, got, p.now);
  CHECK(got == pattern(8000));
}

namespace {
// A server-side connection driven by hand from the client's side.
struct hand_peer {
  tcp_host h{server_addr};
  conn_id c = 0;
  std::uint32_t iss = 0, snd = 1001;  // peer's next sequence number
  hand_peer() {
    auto l = h.L.listen(80, 4);
    REQUIRE(l);
    h.inject(client_addr, seg(40000, 80, tf::syn, 1000), {}, {});
    iss = h.take().at(0).h.seq;
    h.inject(client_addr, seg(40000, 80, tf::ack, 1001, iss + 1), {}, {});
    c = *h.L.accept(*l);
  }
  void in(std::uint8_t flags, std::uint32_t seq, bytes data = {}) {
    h.inject(client_addr, seg(40000, 80, flags, seq, iss + 1), data, {});
  }
};
}  // namespace

TEST_CASE("ESTABLISHED: a segment far larger than our MSS is accepted when it fits (TSO super-frame)") {
  hand_peer t;
  auto data = pattern(30000);
  t.in(tf::ack | tf::psh, 1001, data);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].h.ack == 1001 + 30000);
  std::vector<std::uint8_t> got(40000);
  CHECK(t.h.L.recv(t.c, got, {}) == 30000);
  CHECK(std::equal(data.begin(), data.end(), got.begin()));
  CHECK(t.h.count(event::kind::readable, t.c) == 1);
}

TEST_CASE("ESTABLISHED: out-of-order data -> dropped, duplicate ACK for RCV.NXT") {
  hand_peer t;
  t.in(tf::ack, 1101, pattern(100));
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::ack));
  CHECK(out[0].h.ack == 1001);
  std::uint8_t b[10];
  CHECK(t.h.L.recv(t.c, b, {}) == 0);
}

TEST_CASE("ESTABLISHED: old data overlapping RCV.NXT -> only the new part is kept") {
  hand_peer t;
  auto data = pattern(200);
  t.in(tf::ack, 1001, bytes(data).first(100));
  t.in(tf::ack, 1051, bytes(data).subspan(50));
  std::vector<std::uint8_t> got(300);
  got.resize(t.h.L.recv(t.c, got, {}));
  CHECK(got == data);
}

TEST_CASE("ESTABLISHED: RST in window but not at RCV.NXT -> challenge ACK; at RCV.NXT -> reset") {
  hand_peer t;
  t.h.take();
  t.in(tf::rst, 1500);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::ack));
  CHECK(out[0].h.ack == 1001);
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 1);
  t.in(tf::rst, 1001 + 10000000);  // outside the window: silently dropped
  CHECK(t.h.take().empty());
  t.in(tf::rst, 1001);
  CHECK(t.h.L.error(t.c) == std::errc::connection_reset);
  CHECK(t.h.L.info(t.c)->state == tcp_state::closed);
  CHECK(t.h.stats[counter::tcp_estab_resets] == 1);
}

TEST_CASE("ESTABLISHED: SYN -> challenge ACK, connection unharmed") {
  hand_peer t;
  t.in(tf::syn, 1001);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::ack));
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 1);
  CHECK(t.h.L.info(t.c)->state == tcp_state::established);
}

TEST_CASE("ESTABLISHED: reset on an accepted connection -> reset event with connection_reset") {
  tcp_pair p;
  auto [c, s] = p.establish();
  p.client.L.abort(c, p.now);
  p.pump();
  auto e = p.server.find(event::kind::reset, s);
  REQUIRE(e);
  CHECK(e->error == std::errc::connection_reset);
  CHECK(p.client.count(event::kind::closed, c) == 1);
}

TEST_CASE("ESTABLISHED: the final ACK lost -> the client's data completes the server's handshake") {
  tcp_pair p;
  auto l = p.server.L.listen(80, 4);
  p.lose = [](const seg_record& r) { return r.src == client_addr && r.is(tf::ack) && r.data.empty(); };
  auto c = p.client.L.connect({server_addr, 80}, p.now);
  p.pump();
  CHECK(p.client.count(event::kind::connected, *c) == 1);
  CHECK_FALSE(p.server.L.accept(*l));
  p.client.L.send(*c, pattern(10), p.now);
  p.pump();
  auto s = p.server.L.accept(*l);
  REQUIRE(s);
  std::uint8_t b[20];
  CHECK(p.server.L.recv(*s, b, p.now) == 10);
}

TEST_CASE("segment_observer: sees every segment in and out") {
  struct counting : segment_observer {
    int in = 0, out = 0;
    void on_segment(direction d, time_point, const segment_summary& s) override {
      (d == direction::in ? in : out)++;
      if (s.flags == tf::syn) CHECK(s.mss == 1460);
    }
  } obs;
  tcp_pair p;
  p.client.L.set_observer(&obs);
  p.establish();
  CHECK(obs.out == 2);  // SYN, ACK
  CHECK(obs.in == 1);   // SYN-ACK
}
