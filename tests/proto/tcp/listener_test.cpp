// Passive open against a hand-driven peer: LISTEN, SYN-RECEIVED (request
// entries), SYN cookies, the accept queue, and closed ports.
#include <doctest/doctest.h>

#include "tcp_rig.hpp"

using namespace coronet;
using namespace coronet::test;

namespace {
const std::uint16_t cport = 40000;

wire::tcp_header full_syn(std::uint16_t sport, std::uint32_t seq) {
  auto h = seg(sport, 80, tf::syn, seq);
  h.options.mss = 1400;
  h.options.window_scale = 7;
  h.options.sack_permitted = true;
  h.options.timestamps = wire::tcp_timestamps{1000, 0};
  return h;
}

struct listening {
  tcp_host h;
  listener_id l = 0;
  explicit listening(const settings& s = {}, int backlog = 16) : h(server_addr, s) {
    auto r = h.L.listen(80, backlog);
    REQUIRE(r.has_value());
    l = *r;
  }
  // Sends a SYN from `sport` and returns the SYN-ACK.
  seg_record syn(std::uint16_t sport, std::uint32_t seq, time_point now = {}, bool options = false) {
    h.inject(client_addr, options ? full_syn(sport, seq) : seg(sport, 80, tf::syn, seq), {}, now);
    auto out = h.take();
    REQUIRE(out.size() == 1);
    return out[0];
  }
  void ack(std::uint16_t sport, std::uint32_t seq, std::uint32_t ack, time_point now = {}) {
    h.inject(client_addr, seg(sport, 80, tf::ack, seq, ack), {}, now);
  }
};
}  // namespace

TEST_CASE("LISTEN: SYN with every option -> SYN-ACK echoes each, final ACK -> acceptable") {
  listening t;
  auto sa = t.syn(cport, 5000, {}, true);
  CHECK(sa.is(tf::syn | tf::ack));
  CHECK(sa.h.ack == 5001);
  CHECK(sa.h.options.mss == 1460);
  CHECK(sa.h.options.window_scale == 2);  // 131072 bytes need a shift of 2
  CHECK(sa.h.options.sack_permitted);
  REQUIRE(sa.h.options.timestamps);
  CHECK(sa.h.options.timestamps->tsecr == 1000);
  CHECK(t.h.count(event::kind::acceptable) == 0);
  t.ack(cport, 5001, sa.h.seq + 1);
  CHECK(t.h.take().empty());
  CHECK(t.h.count(event::kind::acceptable) == 1);
  auto c = t.h.L.accept(t.l);
  REQUIRE(c);
  auto i = t.h.L.info(*c);
  CHECK(i->state == tcp_state::established);
  CHECK(i->snd_mss == 1400);
  CHECK(i->snd_wscale == 7);
  CHECK(i->rcv_wscale == 2);
  CHECK(i->timestamps);
  CHECK(i->sack_permitted);
  CHECK(t.h.stats[counter::tcp_passive_opens] == 1);
  CHECK_FALSE(t.h.L.accept(t.l));
}

TEST_CASE("LISTEN: SYN without options -> SYN-ACK carries only MSS; peer MSS defaults to 536") {
  listening t;
  auto sa = t.syn(cport, 77);
  CHECK(sa.h.options.mss == 1460);
  CHECK_FALSE(sa.h.options.window_scale);
  CHECK_FALSE(sa.h.options.sack_permitted);
  CHECK_FALSE(sa.h.options.timestamps);
  t.ack(cport, 78, sa.h.seq + 1);
  auto c = t.h.L.accept(t.l);
  REQUIRE(c);
  CHECK(t.h.L.info(*c)->snd_mss == 536);
  CHECK(t.h.L.info(*c)->snd_wscale == -1);
}

TEST_CASE("LISTEN: options disabled in settings -> omitted from the SYN-ACK even when offered") {
  settings s;
  s.tcp_sack = false;
  s.tcp_timestamps = false;
  s.tcp_window_scaling = false;
  listening t(s);
  auto sa = t.syn(cport, 1, {}, true);
  CHECK(sa.h.options.mss == 1460);
  CHECK_FALSE(sa.h.options.window_scale);
  CHECK_FALSE(sa.h.options.sack_permitted);
  CHECK_FALSE(sa.h.options.timestamps);
}

TEST_CASE("LISTEN: RST -> ignored; ACK -> RST <SEQ=SEG.ACK>") {
  listening t;
  t.h.inject(client_addr, seg(cport, 80, tf::rst, 10), {}, {});
  CHECK(t.h.take().empty());
  t.ack(cport, 10, 12345);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::rst));
  CHECK(out[0].h.seq == 12345);
}

TEST_CASE("SYN-RECEIVED: ACK other than ISS+1 -> RST, entry kept, then the right ACK completes") {
  listening t;
  auto sa = t.syn(cport, 5000);
  t.ack(cport, 5001, sa.h.seq + 7);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::rst));
  CHECK(out[0].h.seq == sa.h.seq + 7);
  CHECK(t.h.stats[drop::tcp_bad_ack] == 1);
  t.ack(cport, 5001, sa.h.seq + 1);
  CHECK(t.h.L.accept(t.l).has_value());
}

TEST_CASE("SYN-RECEIVED: duplicate SYN -> the same SYN-ACK again") {
  listening t;
  auto sa = t.syn(cport, 5000);
  auto again = t.syn(cport, 5000, at(200ms));
  CHECK(again.is(tf::syn | tf::ack));
  CHECK(again.h.seq == sa.h.seq);
  CHECK(again.h.ack == 5001);
}

TEST_CASE("SYN-RECEIVED: RST at RCV.NXT -> entry dropped") {
  listening t;
  auto sa = t.syn(cport, 5000);
  t.h.inject(client_addr, seg(cport, 80, tf::rst, 5001), {}, {});
  CHECK(t.h.take().empty());
  t.ack(cport, 5001, sa.h.seq + 1);  // no entry any more: the listener answers with RST
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::rst));
  CHECK_FALSE(t.h.L.accept(t.l));
}

TEST_CASE("SYN-RECEIVED: RST in window but not at RCV.NXT -> challenge ACK, entry kept") {
  listening t;
  auto sa = t.syn(cport, 5000);
  t.h.inject(client_addr, seg(cport, 80, tf::rst, 5100), {}, {});
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::ack));
  CHECK(out[0].h.seq == sa.h.seq + 1);
  CHECK(out[0].h.ack == 5001);
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 1);
  t.ack(cport, 5001, sa.h.seq + 1);
  CHECK(t.h.L.accept(t.l).has_value());
}

TEST_CASE("SYN-RECEIVED: no final ACK -> SYN-ACK at 1, 3, 7, 15, 31 s, entry expires at 63 s") {
  listening t;
  auto sa = t.syn(cport, 5000);
  std::vector<std::int64_t> resent;
  for (auto d = t.h.L.next_deadline(); d && *d <= at(200s); d = t.h.L.next_deadline()) {
    t.h.L.on_timer(*d);
    for (auto& r : t.h.take()) {
      CHECK(r.h.seq == sa.h.seq);
      resent.push_back(std::chrono::duration_cast<std::chrono::seconds>(d->time_since_epoch()).count());
    }
    if (t.h.stats[counter::tcp_req_expired]) {
      CHECK(*d == at(63s));
      break;
    }
  }
  CHECK(resent == std::vector<std::int64_t>{1, 3, 7, 15, 31});
  CHECK(t.h.stats[counter::tcp_req_expired] == 1);
  CHECK(t.h.stats[counter::tcp_synack_retrans] == 5);
  t.ack(cport, 5001, sa.h.seq + 1);  // too late: RST
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::rst));
}

TEST_CASE("LISTEN: SYN queue full, cookies on -> stateless SYN-ACK; its ACK makes a connection") {
  listening t({}, 1);
  t.syn(cport, 100);  // fills the one-entry SYN queue
  auto sa = t.syn(cport + 1, 9000, at(10s), true);
  CHECK(sa.is(tf::syn | tf::ack));
  CHECK(t.h.stats[counter::tcp_syncookies_sent] == 1);
  REQUIRE(sa.h.options.timestamps);
  CHECK(sa.h.options.window_scale == 2);
  auto ack = seg(cport + 1, 80, tf::ack, 9001, sa.h.seq + 1);
  ack.options.timestamps = wire::tcp_timestamps{1001, sa.h.options.timestamps->tsval};
  t.h.inject(client_addr, ack, {}, at(11s));
  CHECK(t.h.stats[counter::tcp_syncookies_recv] == 1);
  auto c = t.h.L.accept(t.l);
  REQUIRE(c);
  auto i = t.h.L.info(*c);
  CHECK(i->remote.port == cport + 1);
  CHECK(i->snd_mss == 1300);     // 1400 offered: the largest table entry below it
  CHECK(i->snd_wscale == 7);     // came back through the timestamp
  CHECK(i->sack_permitted);
  CHECK(i->iss == sa.h.seq);
}

TEST_CASE("LISTEN: cookie SYN-ACK without timestamps offers neither window scaling nor SACK") {
  listening t({}, 1);
  t.syn(cport, 100);
  auto h = full_syn(cport + 1, 9000);
  h.options.timestamps.reset();
  t.h.inject(client_addr, h, {}, {});
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].h.options.mss == 1460);
  CHECK_FALSE(out[0].h.options.window_scale);
  CHECK_FALSE(out[0].h.options.sack_permitted);
}

TEST_CASE("LISTEN: a forged cookie ACK -> SyncookiesFailed and RST, no connection") {
  listening t({}, 1);
  t.syn(cport, 100);
  auto sa = t.syn(cport + 1, 9000);
  t.ack(cport + 1, 9001, sa.h.seq + 1 + 0x00800000u);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::rst));
  CHECK(t.h.stats[drop::tcp_syncookie_failed] == 1);
  CHECK_FALSE(t.h.L.accept(t.l));
}

TEST_CASE("LISTEN: SYN queue full, cookies off -> SYN dropped (TCPReqQFullDrop, ListenDrops)") {
  settings s;
  s.tcp_syncookies = false;
  listening t(s, 1);
  t.syn(cport, 100);
  t.h.inject(client_addr, seg(cport + 1, 80, tf::syn, 9000), {}, {});
  CHECK(t.h.take().empty());
  CHECK(t.h.stats[drop::tcp_syn_queue_full] == 1);
  CHECK(t.h.stats[drop::tcp_listen_drop] == 1);
}

TEST_CASE("LISTEN: backlog is clamped to somaxconn and bounds the SYN queue") {
  settings s;
  s.somaxconn = 2;
  s.tcp_syncookies = false;
  listening t(s, 100);
  t.syn(cport, 1);
  t.syn(cport + 1, 1);
  t.h.inject(client_addr, seg(cport + 2, 80, tf::syn, 1), {}, {});
  CHECK(t.h.take().empty());
  CHECK(t.h.stats[drop::tcp_syn_queue_full] == 1);
}

TEST_CASE("SYN-RECEIVED: accept queue full -> final ACK dropped, entry kept; after accept() the retransmitted ACK completes") {
  listening t({}, 2);
  auto a = t.syn(cport, 100);
  auto b = t.syn(cport + 1, 200);
  t.ack(cport, 101, a.h.seq + 1);
  auto c = t.syn(cport + 2, 300);
  t.ack(cport + 1, 201, b.h.seq + 1);  // accept queue now holds 2 = backlog
  t.ack(cport + 2, 301, c.h.seq + 1);
  CHECK(t.h.take().empty());
  CHECK(t.h.stats[drop::tcp_listen_overflow] == 1);
  CHECK(t.h.stats[drop::tcp_listen_drop] == 1);
  REQUIRE(t.h.L.accept(t.l));
  t.ack(cport + 2, 301, c.h.seq + 1);  // the client's retransmission
  CHECK(t.h.L.accept(t.l));
  auto third = t.h.L.accept(t.l);
  REQUIRE(third);
  CHECK(t.h.L.info(*third)->remote.port == cport + 2);
}

TEST_CASE("LISTEN: accept queue full -> SYN dropped (ListenOverflows)") {
  listening t({}, 1);
  auto a = t.syn(cport, 100);
  t.ack(cport, 101, a.h.seq + 1);
  t.h.inject(client_addr, seg(cport + 1, 80, tf::syn, 1), {}, {});
  CHECK(t.h.take().empty());
  CHECK(t.h.stats[drop::tcp_listen_overflow] == 1);
}

TEST_CASE("SYN-RECEIVED: accept queue full with tcp_abort_on_overflow -> RST, entry gone") {
  settings s;
  s.tcp_abort_on_overflow = true;
  listening t(s, 2);
  auto a = t.syn(cport, 100);
  auto b = t.syn(cport + 1, 200);
  t.ack(cport, 101, a.h.seq + 1);
  auto c = t.syn(cport + 2, 300);
  t.ack(cport + 1, 201, b.h.seq + 1);
  t.ack(cport + 2, 301, c.h.seq + 1);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::rst));
  CHECK(out[0].h.seq == c.h.seq + 1);
}

TEST_CASE("CLOSED: SYN to a port nobody listens on -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>") {
  tcp_host h(server_addr);
  h.inject(client_addr, seg(cport, 81, tf::syn, 0xffffffffu), {}, {});
  auto out = h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::rst | tf::ack));
  CHECK(out[0].h.seq == 0);
  CHECK(out[0].h.ack == 0);  // wraps
  CHECK(out[0].h.src_port == 81);
  CHECK(out[0].h.dst_port == cport);
  CHECK(h.stats[counter::tcp_out_rsts] == 1);
  CHECK(h.stats[drop::tcp_no_socket] == 1);
}

TEST_CASE("CLOSED: data with ACK -> <SEQ=SEG.ACK><CTL=RST>; a RST gets no answer") {
  tcp_host h(server_addr);
  std::vector<std::uint8_t> data(10, 1);
  h.inject(client_addr, seg(cport, 81, tf::ack | tf::psh, 500, 777), data, {});
  auto out = h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::rst));
  CHECK(out[0].h.seq == 777);
  h.inject(client_addr, seg(cport, 81, tf::rst, 500), {}, {});
  CHECK(h.take().empty());
}

TEST_CASE("listen: port 0 -> invalid_argument; a taken port -> address_in_use; closing frees it") {
  tcp_host h(server_addr);
  CHECK(h.L.listen(0, 1).error() == std::errc::invalid_argument);
  auto l = h.L.listen(80, 1);
  REQUIRE(l);
  CHECK(h.L.listen(80, 1).error() == std::errc::address_in_use);
  h.L.close_listener(*l, {});
  CHECK(h.L.listen(80, 1).has_value());
}

TEST_CASE("close_listener: connections nobody accepted are reset") {
  listening t;
  auto a = t.syn(cport, 100);
  t.ack(cport, 101, a.h.seq + 1);
  t.h.L.close_listener(t.l, {});
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].has(tf::rst));
  CHECK(t.h.count(event::kind::closed) == 0);
}
