// Active open against a hand-driven peer (RFC 9293 3.10.7.3).
#include <doctest/doctest.h>

#include "tcp_rig.hpp"

using namespace coronet;
using namespace coronet::test;

namespace {
struct connecting {
  tcp_host h;
  conn_id c = 0;
  seg_record syn;
  explicit connecting(const settings& s = {}) : h(client_addr, s) {
    auto r = h.L.connect({server_addr, 80}, {});
    REQUIRE(r.has_value());
    c = *r;
    auto out = h.take();
    REQUIRE(out.size() == 1);
    syn = out[0];
  }
  std::uint16_t lport() const { return syn.h.src_port; }
  void in(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, time_point now = {}) {
    h.inject(server_addr, seg(80, lport(), flags, seq, ack), {}, now);
  }
};
}  // namespace

TEST_CASE("SYN-SENT: connect -> SYN offering MSS, SACK, timestamps and window scale") {
  connecting t;
  CHECK(t.syn.is(tf::syn));
  CHECK(t.syn.h.options.mss == 1460);
  CHECK(t.syn.h.options.sack_permitted);
  CHECK(t.syn.h.options.timestamps);
  CHECK(t.syn.h.options.window_scale == 2);
  CHECK(t.h.L.info(t.c)->state == tcp_state::syn_sent);
  CHECK(t.h.stats[counter::tcp_active_opens] == 1);
}

TEST_CASE("SYN-SENT: ACK outside (ISS, SND.NXT] -> RST <SEQ=SEG.ACK>, still SYN-SENT") {
  connecting t;
  t.in(tf::syn | tf::ack, 900, t.syn.h.seq + 2);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::rst));
  CHECK(out[0].h.seq == t.syn.h.seq + 2);
  t.in(tf::ack, 900, t.syn.h.seq);  // ack == ISS is not acceptable either
  CHECK(t.h.take().size() == 1);
  CHECK(t.h.L.info(t.c)->state == tcp_state::syn_sent);
}

TEST_CASE("SYN-SENT: RST with an acceptable ACK -> connect_failed, connection_refused") {
  connecting t;
  t.in(tf::rst | tf::ack, 0, t.syn.h.seq + 1);
  auto e = t.h.find(event::kind::connect_failed, t.c);
  REQUIRE(e);
  CHECK(e->error == std::errc::connection_refused);
  CHECK(t.h.L.error(t.c) == std::errc::connection_refused);
  CHECK(t.h.stats[counter::tcp_attempt_fails] == 1);
  CHECK(t.h.take().empty());
}

TEST_CASE("SYN-SENT: RST without ACK, or with a bad ACK -> ignored") {
  connecting t;
  t.in(tf::rst, 0, 0);
  t.in(tf::rst | tf::ack, 0, t.syn.h.seq + 9);
  CHECK(t.h.take().empty());  // never a RST in answer to a RST
  CHECK(t.h.count(event::kind::connect_failed) == 0);
  CHECK(t.h.L.info(t.c)->state == tcp_state::syn_sent);
}

TEST_CASE("SYN-SENT: SYN-ACK -> ACK, ESTABLISHED, connected") {
  connecting t;
  auto sa = seg(80, t.lport(), tf::syn | tf::ack, 0xfffffffeu, t.syn.h.seq + 1, 1000);
  sa.options.mss = 1000;
  t.h.inject(server_addr, sa, {}, at(5ms));
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::ack));
  CHECK(out[0].h.seq == t.syn.h.seq + 1);
  CHECK(out[0].h.ack == 0xffffffffu);
  CHECK(t.h.count(event::kind::connected, t.c) == 1);
  auto i = t.h.L.info(t.c);
  CHECK(i->state == tcp_state::established);
  CHECK(i->snd_mss == 1000);
  CHECK_FALSE(i->timestamps);  // the SYN-ACK did not echo it
  CHECK(i->snd_wscale == -1);
}

TEST_CASE("SYN-SENT: SYN without ACK -> simultaneous open: SYN-ACK, SYN-RECEIVED, ESTABLISHED on the ACK") {
  connecting t;
  t.in(tf::syn, 4000, 0);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::syn | tf::ack));
  CHECK(out[0].h.seq == t.syn.h.seq);
  CHECK(out[0].h.ack == 4001);
  CHECK_FALSE(out[0].h.options.timestamps);  // the peer's SYN did not offer it
  CHECK(t.h.L.info(t.c)->state == tcp_state::syn_received);
  t.in(tf::ack, 4001, t.syn.h.seq + 1);
  CHECK(t.h.L.info(t.c)->state == tcp_state::established);
  CHECK(t.h.count(event::kind::connected, t.c) == 1);
}

TEST_CASE("SYN-SENT: no answer -> SYN at 1, 3, 7, 15, 31, 63 s, timed_out at 127 s") {
  connecting t;
  std::vector<std::int64_t> resent;
  for (auto d = t.h.L.next_deadline(); d && *d <= at(300s); d = t.h.L.next_deadline()) {
    t.h.L.on_timer(*d);
    for (auto& r : t.h.take()) {
      CHECK(r.is(tf::syn));
      CHECK(r.h.seq == t.syn.h.seq);
      resent.push_back(std::chrono::duration_cast<std::chrono::seconds>(d->time_since_epoch()).count());
    }
    if (auto e = t.h.find(event::kind::connect_failed, t.c)) {
      CHECK(*d == at(127s));
      CHECK(e->error == std::errc::timed_out);
      break;
    }
  }
  CHECK(resent == std::vector<std::int64_t>{1, 3, 7, 15, 31, 63});
  CHECK(t.h.count(event::kind::connect_failed, t.c) == 1);
  CHECK(t.h.stats[counter::tcp_attempt_fails] == 1);
  CHECK(t.h.stats[counter::tcp_timeouts] == 7);
}

TEST_CASE("SYN-SENT: tcp_syn_retries=2 -> timed_out at 7 s") {
  settings s;
  s.tcp_syn_retries = 2;
  connecting t(s);
  for (auto d = t.h.L.next_deadline(); d && *d <= at(300s) && !t.h.count(event::kind::connect_failed);
       d = t.h.L.next_deadline())
    t.h.L.on_timer(*d);
  CHECK(t.h.take().size() == 2);
  REQUIRE(t.h.L.next_deadline() == std::nullopt);
  CHECK(t.h.find(event::kind::connect_failed, t.c)->error == std::errc::timed_out);
}

TEST_CASE("SYN-SENT: neighbour resolution failed -> connect_failed, host_unreachable") {
  connecting t;
  t.h.L.on_neighbor_failed(make_ipv4(198, 18, 0, 9), at(3s));  // someone else
  CHECK(t.h.count(event::kind::connect_failed) == 0);
  t.h.L.on_neighbor_failed(server_addr, at(3s));
  auto e = t.h.find(event::kind::connect_failed, t.c);
  REQUIRE(e);
  CHECK(e->error == std::errc::host_unreachable);
}

TEST_CASE("SYN-SENT: close() -> closed event, no segment") {
  connecting t;
  t.h.L.close(t.c, {});
  CHECK(t.h.take().empty());
  CHECK(t.h.count(event::kind::closed, t.c) == 1);
  CHECK_FALSE(t.h.L.info(t.c));
}
