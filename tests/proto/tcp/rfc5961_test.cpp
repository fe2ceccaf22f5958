// RFC 5961 (blind in-window attacks) against one tcp::layer, with segments
// crafted by hand: RST and SYN in the synchronized states answered by
// challenge ACKs, the ACK acceptability test, and the rate limits on the
// ACKs a stack sends to invalid segments (RFC 5961 7; Linux
// tcp_validate_incoming, tcp_send_challenge_ack, __tcp_oow_rate_limited).
#include <doctest/doctest.h>

#include "tcp_rig.hpp"

using namespace coronet;
using namespace coronet::test;

namespace {

constexpr std::uint16_t peer_port = 40000;

// The layer under test is a server; the test plays its client by hand. The
// client offers MSS 1460 only (no window scaling, no SACK, no timestamps), so
// its window of 65535 is MAX.SND.WND and the server's window is unscaled.
struct hand_client {
  tcp_host h;
  listener_id l = 0;
  conn_id c = 0;
  std::uint32_t iss = 0;     // the server's
  std::uint32_t snd = 1001;  // our next sequence number = the server's RCV.NXT
  time_point now{};

  explicit hand_client(const settings& s = {}, std::uint16_t port = peer_port) : h(server_addr, s) {
    auto ll = h.L.listen(80, 16);
    REQUIRE(ll);
    l = *ll;
    connect(port);
  }
  void connect(std::uint16_t port) {
    auto syn = seg(port, 80, tf::syn, 1000);
    syn.options.mss = 1460;
    h.inject(client_addr, syn, {}, now);
    auto out = h.take();
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].is(tf::syn | tf::ack));
    iss = out[0].h.seq;
    h.inject(client_addr, seg(port, 80, tf::ack, 1001, iss + 1), {}, now);
    auto a = h.L.accept(l);
    REQUIRE(a);
    c = *a;
    REQUIRE(h.take().empty());
  }
  // A segment from the client: `ack` defaults to everything the server sent.
  void in(std::uint8_t flags, std::uint32_t seq, bytes data = {}, std::optional<std::uint32_t> ack = {},
          std::uint16_t port = peer_port) {
    auto sg = seg(port, 80, flags, seq, ack ? *ack : iss + 1 + sent);
    h.inject(client_addr, sg, data, now);
  }
  void advance(duration d) {
    for (time_point end = now + d; now < end;) {
      now = std::min(end, now + std::chrono::milliseconds(1));
      h.fire(now);
    }
  }
  std::uint32_t sent = 0;  // data the server has sent (and we may acknowledge)
  tcp_state state() { return h.L.info(c)->state; }
  std::size_t readable() {
    std::vector<std::uint8_t> buf(100000);
    return h.L.recv(c, buf, now);
  }
};

using std::chrono::milliseconds;

}  // namespace

// --- RST (RFC 5961 3) -------------------------------------------------------

TEST_CASE("RFC 5961 3.2: RST exactly at RCV.NXT -> the connection is reset") {
  hand_client t;
  t.in(tf::rst, t.snd);
  CHECK(t.h.take().empty());
  CHECK(t.state() == tcp_state::closed);
  CHECK(t.h.L.error(t.c) == std::errc::connection_reset);
  auto ev = t.h.find(event::kind::reset, t.c);
  REQUIRE(ev);
  CHECK(ev->error == std::errc::connection_reset);
  CHECK(t.h.stats[counter::tcp_estab_resets] == 1);
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 0);
}

TEST_CASE("RFC 5961 3.2: RST in the window but not at RCV.NXT -> challenge ACK, connection kept; the answer resets") {
  hand_client t;
  t.in(tf::rst, t.snd + 1000);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::ack));          // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
  CHECK(out[0].h.seq == t.iss + 1);
  CHECK(out[0].h.ack == t.snd);
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 1);
  CHECK(t.state() == tcp_state::established);
  CHECK(t.h.count(event::kind::reset) == 0);
  // A peer that really lost the connection answers with a RST at the ACK's
  // number, which is RCV.NXT: that one is believed.
  t.in(tf::rst, out[0].h.ack);
  CHECK(t.state() == tcp_state::closed);
  CHECK(t.h.L.error(t.c) == std::errc::connection_reset);
}

TEST_CASE("RFC 5961 3.2: RST outside the window -> dropped silently") {
  hand_client t;
  t.in(tf::rst, t.snd + 10'000'000);  // beyond RCV.NXT + RCV.WND
  CHECK(t.h.take().empty());
  t.in(tf::rst, t.snd - 1);           // below RCV.NXT
  CHECK(t.h.take().empty());
  t.in(tf::rst | tf::ack, t.snd - 5000);
  CHECK(t.h.take().empty());
  CHECK(t.state() == tcp_state::established);
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 0);
  CHECK(t.h.count(event::kind::reset) == 0);
}

// --- SYN (RFC 5961 4) -------------------------------------------------------

TEST_CASE("RFC 5961 4.2: SYN in ESTABLISHED, in or out of the window -> challenge ACK, connection kept") {
  for (std::uint32_t offset : {0u, 1000u, 50'000'000u}) {
    CAPTURE(offset);
    hand_client t;
    t.in(tf::syn, t.snd + offset);
    auto out = t.h.take();
    REQUIRE(out.size() == 1);
    CHECK(out[0].is(tf::ack));  // not a RST (RFC 793's answer, which let a blind SYN kill the connection)
    CHECK(out[0].h.seq == t.iss + 1);
    CHECK(out[0].h.ack == t.snd);
    CHECK(t.h.stats[counter::tcp_challenge_acks] == 1);
    CHECK(t.state() == tcp_state::established);
    CHECK(t.h.count(event::kind::reset) == 0);
  }
}

// --- ACK acceptability (RFC 5961 5.2) ------------------------------------------

namespace {
// The server sends 3000 bytes that the client does not acknowledge:
// SND.UNA = ISS + 1, SND.NXT = ISS + 3001.
void send_unacked(hand_client& t) {
  auto data = pattern(3000, 4);
  REQUIRE(t.h.L.send(t.c, data, t.now) == 3000);
  REQUIRE_FALSE(t.h.take().empty());
}
}  // namespace

TEST_CASE("RFC 5961 5.2: ACK above SND.NXT -> segment dropped, answered with an ACK, nothing advances") {
  hand_client t;
  send_unacked(t);
  std::uint32_t snd_nxt = t.iss + 1 + 3000;
  auto data = pattern(100, 9);
  t.in(tf::ack | tf::psh, t.snd, data, snd_nxt + 1000);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);  // RFC 9293 3.10.7.4: "send an ACK, drop the segment"
  CHECK(out[0].is(tf::ack));
  CHECK(out[0].h.ack == t.snd);  // the data was not taken
  CHECK(out[0].data.empty());
  CHECK(t.readable() == 0);
  CHECK(t.h.stats[drop::tcp_bad_ack] == 1);
  // SND.UNA did not move: the 3000 bytes are still retransmitted from ISS + 1.
  t.advance(3s);
  bool resent = false;
  for (const auto& r : t.h.take())
    if (!r.data.empty() && r.h.seq == t.iss + 1) resent = true;
  CHECK(resent);
  CHECK(t.state() == tcp_state::established);
}

TEST_CASE("RFC 5961 5.2: ACK below SND.UNA - MAX.SND.WND -> segment dropped, answered with an ACK") {
  hand_client t;
  send_unacked(t);
  std::uint32_t too_old = t.iss + 1 - 65535 - 1000;  // MAX.SND.WND = 65535, the client's largest window
  auto data = pattern(100, 9);
  t.in(tf::ack | tf::psh, t.snd, data, too_old);
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::ack));
  CHECK(out[0].h.ack == t.snd);
  CHECK(t.readable() == 0);
  CHECK(t.h.stats[drop::tcp_bad_ack] == 1);
  CHECK(t.state() == tcp_state::established);
}

TEST_CASE("RFC 5961 5.2: an old ACK within MAX.SND.WND below SND.UNA -> acceptable, its data delivered") {
  hand_client t;
  send_unacked(t);
  t.in(tf::ack, t.snd, {}, t.iss + 1 + 3000);  // everything acknowledged: SND.UNA = SND.NXT
  t.h.take();
  auto data = pattern(100, 9);
  t.in(tf::ack | tf::psh, t.snd, data, t.iss + 1 + 3000 - 2000);  // older, but within the window
  CHECK(t.readable() == 100);
  CHECK(t.h.stats[drop::tcp_bad_ack] == 0);
  CHECK(t.state() == tcp_state::established);
}

// --- rate limits (RFC 5961 7) -----------------------------------------------------

TEST_CASE("RFC 5961 7: challenge ACKs per connection at most one per tcp_invalid_ratelimit") {
  hand_client t;  // tcp_invalid_ratelimit = 500 ms (Linux __tcp_oow_rate_limited)
  t.advance(milliseconds(1000));
  for (int i = 0; i < 3; ++i) {
    t.in(tf::rst, t.snd + 1000 + static_cast<std::uint32_t>(i));
    t.advance(milliseconds(100));
  }
  CHECK(t.h.take().size() == 1);
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 1);
  CHECK(t.h.stats[counter::tcp_ack_skipped_challenge] == 2);
  t.advance(milliseconds(300));  // 600 ms after the first
  t.in(tf::rst, t.snd + 1000);
  CHECK(t.h.take().size() == 1);
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 2);
  CHECK(t.state() == tcp_state::established);
}

TEST_CASE("RFC 5961 7: tcp_challenge_ack_limit per second across the stack; the rest counted as skipped") {
  settings s;
  s.tcp_challenge_ack_limit = 2;
  s.tcp_invalid_ratelimit = milliseconds(0);  // no per-connection limit: only the stack-wide one
  hand_client t(s);
  t.advance(milliseconds(10'000));  // a fresh second begins at 10 s
  for (int i = 0; i < 5; ++i) {
    t.in(tf::rst, t.snd + 1000);
    t.advance(milliseconds(100));
  }
  // Linux since CVE-2016-5696 draws each second's budget at random around the
  // limit; coronet's is exactly the limit.
  CHECK(t.h.take().size() == 2);
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 2);
  CHECK(t.h.stats[counter::tcp_ack_skipped_challenge] == 3);
  t.advance(milliseconds(600));  // the next second: a fresh budget
  t.in(tf::rst, t.snd + 1000);
  CHECK(t.h.take().size() == 1);
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 3);
  CHECK(t.state() == tcp_state::established);
}

TEST_CASE("RFC 5961 7: the stack-wide challenge ACK budget is shared by all connections") {
  settings s;
  s.tcp_challenge_ack_limit = 2;
  s.tcp_invalid_ratelimit = milliseconds(0);
  hand_client t(s);
  auto first = t.c;
  auto first_iss = t.iss;
  t.connect(peer_port + 1);  // a second connection on the same layer
  t.advance(milliseconds(10'000));
  for (int i = 0; i < 5; ++i) {
    bool one = i % 2 == 0;
    auto sg = seg(one ? peer_port : peer_port + 1, 80, tf::rst, t.snd + 1000, (one ? first_iss : t.iss) + 1);
    t.h.inject(client_addr, sg, {}, t.now);
  }
  CHECK(t.h.take().size() == 2);
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 2);
  CHECK(t.h.stats[counter::tcp_ack_skipped_challenge] == 3);
  CHECK(t.h.L.info(first)->state == tcp_state::established);
  CHECK(t.state() == tcp_state::established);
}

TEST_CASE("RFC 5961 7: duplicate ACKs for out-of-window ACKs at most one per tcp_invalid_ratelimit; data always answered") {
  hand_client t;
  t.advance(milliseconds(1000));
  // Pure ACKs far outside the window (Linux tcp_oow_rate_limited): one answer
  // per 500 ms, the rest counted in TCPACKSkippedSeq.
  for (int i = 0; i < 5; ++i) {
    t.in(tf::ack, t.snd + 10'000'000);
    t.advance(milliseconds(50));
  }
  auto out = t.h.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::ack));
  CHECK(out[0].h.ack == t.snd);
  CHECK(t.h.stats[counter::tcp_ack_skipped_seq] == 4);
  CHECK(t.h.stats[drop::tcp_out_of_window] >= 5);
  t.advance(milliseconds(500));
  t.in(tf::ack, t.snd + 10'000'000);
  CHECK(t.h.take().size() == 1);
  // Segments carrying data are no ACK loop: each gets its duplicate ACK.
  auto data = pattern(100);
  for (int i = 0; i < 3; ++i) t.in(tf::ack, t.snd + 10'000'000, data);
  CHECK(t.h.take().size() == 3);
  CHECK(t.h.stats[counter::tcp_ack_skipped_seq] == 4);
  CHECK(t.readable() == 0);
  CHECK(t.state() == tcp_state::established);
}
