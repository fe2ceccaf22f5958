// tests/proto/tcp/options_test.cpp - per-connection options and the smaller
// data-path rules: keepalive (RFC 1122 4.2.3.6, Linux tcp_keepalive_timer),
// Nagle (RFC 9293 3.7.4), send-buffer autotuning (Linux tcp_sndbuf_expand),
// segment size with options (RFC 6691), the connection report (conn_info).
#include <doctest/doctest.h>

#include "tests/proto/tcp/tcp_rig.hpp"

using namespace coronet;
using namespace coronet::test;

namespace {

std::size_t data_segments_from(const tcp_pair& p, ipv4_addr src) {
  return static_cast<std::size_t>(std::count_if(p.log.begin(), p.log.end(), [&](const seg_record& r) {
    return r.src == src && !r.data.empty();
  }));
}

}  // namespace

TEST_CASE("keepalive: an idle connection is probed after tcp_keepalive_time; an answering peer keeps it") {
  settings cs;
  cs.tcp_keepalive_time = 10s;
  cs.tcp_keepalive_intvl = 2s;
  tcp_pair p(cs, {});
  auto [c, s] = p.establish();
  p.client.L.set_keepalive(c, true, p.now);
  auto info = p.client.L.info(c);
  REQUIRE(info);
  CHECK(info->keepalive);
  p.run_for(9s);
  CHECK(p.client.stats[counter::tcp_keepalive] == 0);  // not idle long enough yet
  p.run_for(2s);
  CHECK(p.client.stats[counter::tcp_keepalive] == 1);
  // The probe is SEG.SEQ = SND.UNA - 1 without data; the server answers with an ACK.
  auto probe = std::find_if(p.log.rbegin(), p.log.rend(), [](const seg_record& r) { return r.src == client_addr; });
  REQUIRE(probe != p.log.rend());
  CHECK(probe->data.empty());
  CHECK(probe->h.seq == info->iss);  // SND.UNA - 1: nothing was sent, SND.UNA = ISS + 1
  CHECK(p.log.back().src == server_addr);
  p.run_for(60s);  // answered every time: stays up, one probe per idle period
  CHECK(p.client.L.info(c)->state == tcp_state::established);
  CHECK(p.client.stats[counter::tcp_keepalive] >= 5);
  CHECK(p.client.count(event::kind::reset, c) == 0);
  (void)s;
}

TEST_CASE("keepalive: tcp_keepalive_probes unanswered probes -> RST, timed_out") {
  settings cs;
  cs.tcp_keepalive_time = 10s;
  cs.tcp_keepalive_intvl = 2s;
  cs.tcp_keepalive_probes = 3;
  tcp_pair p(cs, {});
  auto [c, s] = p.establish();
  p.client.L.set_keepalive(c, true, p.now);
  p.lose = [](const seg_record&) { return true; };  // the peer is gone
  p.run_for(10s + 3 * 2s - 1ms);
  CHECK(p.client.stats[counter::tcp_keepalive] == 3);
  CHECK(p.client.count(event::kind::reset, c) == 0);
  p.run_for(2ms);
  auto e = p.client.find(event::kind::reset, c);
  REQUIRE(e);
  CHECK(e->error == std::errc::timed_out);
  CHECK(p.client.stats[counter::tcp_abort_on_timeout] == 1);
  // Linux tcp_keepalive_timer: tcp_send_active_reset before giving up, so a
  // peer that is only cut off learns the connection is gone.
  REQUIRE(!p.log.empty());
  const seg_record& last = p.log.back();
  CHECK(last.src == client_addr);
  CHECK(last.h.flags == (wire::tcp_flag::rst | wire::tcp_flag::ack));
  CHECK(p.client.stats[counter::tcp_out_rsts] == 1);
  (void)s;
}

TEST_CASE("keepalive: off by default, no probes however long the silence") {
  tcp_pair p;
  auto [c, s] = p.establish();
  p.run_for(3h);
  CHECK(p.client.stats[counter::tcp_keepalive] == 0);
  CHECK(p.server.stats[counter::tcp_keepalive] == 0);
  CHECK(p.client.L.info(c)->state == tcp_state::established);
  (void)s;
}

TEST_CASE("Nagle: off by default (TCP_NODELAY); on, a small write waits for the ACK of the data in flight") {
  for (bool nagle : {false, true}) {
    CAPTURE(nagle);
    tcp_pair p;
    auto [c, s] = p.establish();
    if (nagle) p.client.L.set_nodelay(c, false);
    CHECK(p.client.L.info(c)->nodelay == !nagle);
    p.lose = [](const seg_record& r) { return r.src == server_addr; };  // hold the ACKs back
    CHECK(p.client.L.send(c, pattern(100), p.now) == 100);
    CHECK(p.client.L.send(c, pattern(100, 1), p.now) == 100);
    p.pump();
    // RFC 9293 3.7.4: with Nagle, the second small segment waits while the first is unacknowledged.
    CHECK(data_segments_from(p, client_addr) == (nagle ? 1u : 2u));
    p.lose = nullptr;
    p.run_for(2s);
    std::vector<std::uint8_t> got(400);
    std::size_t n = p.server.L.recv(s, got, p.now);
    CHECK(n == 200);
  }
}

TEST_CASE("send buffer autotuning: a busy writer's buffer grows past tcp_wmem towards its max") {
  settings cs;
  cs.tcp_wmem = 16384;
  cs.tcp_wmem_max = 1 << 20;
  tcp_pair p(cs, {});
  auto [c, s] = p.establish();
  auto data = pattern(1 << 20, 3);
  std::size_t sent = 0, got = 0;
  std::vector<std::uint8_t> buf(1 << 16);
  for (int i = 0; i < 2000 && got < data.size(); ++i) {
    sent += p.client.L.send(c, bytes(data).subspan(sent), p.now);
    p.pump();
    got += p.server.L.recv(s, buf, p.now);
    p.run_for(1ms);
  }
  CHECK(got == data.size());
  auto info = p.client.L.info(c);
  REQUIRE(info);
  CHECK(info->sndbuf > 16384);
  CHECK(info->sndbuf <= std::size_t{1} << 20);
  CHECK(p.client.stats[counter::tcp_sndbuf_grows] >= 1);
}

TEST_CASE("segment size: payload plus timestamps and SACK blocks stays within the peer's MSS (RFC 6691)") {
  tcp_pair p;
  auto [c, s] = p.establish();
  // Lose every third data segment so the receiver has holes to report in SACK blocks.
  int n = 0;
  p.lose = [&](const seg_record& r) { return r.src == client_addr && !r.data.empty() && ++n % 3 == 0; };
  CHECK(p.client.L.send(c, pattern(12000, 9), p.now) == 12000);
  p.run_for(5s);
  auto mss = p.client.L.info(c)->snd_mss;
  bool saw_sack = false;
  for (const auto& r : p.log) {
    std::size_t opts = wire::tcp_header_len(r.h) - 20;
    CHECK(r.data.size() + opts <= mss);
    saw_sack |= r.h.options.sack_count > 0;
  }
  CHECK(saw_sack);
  std::vector<std::uint8_t> got(20000);
  CHECK(p.server.L.recv(s, got, p.now) == 12000);
}

TEST_CASE("conn_info: congestion control, RTT and counters after a transfer") {
  tcp_pair p;
  auto [c, s] = p.establish();
  CHECK(p.client.L.send(c, pattern(5000), p.now) == 5000);
  p.run_for(1s);
  auto i = p.client.L.info(c);
  REQUIRE(i);
  CHECK(i->congestion_control == "cubic");
  CHECK(i->ca_state == "open");
  CHECK(i->cwnd >= 10);
  CHECK(i->bytes_acked == 5000);
  CHECK(i->data_segs_out == 4);
  CHECK(i->unacked == 0);
  CHECK(i->retrans_segs == 0);
  CHECK(i->rto >= 200ms);  // Linux's floor, tcp_rto_min
  auto r = p.server.L.info(s);
  REQUIRE(r);
  CHECK(r->data_segs_in == 4);
  CHECK(r->recv_queue == 5000);
}
