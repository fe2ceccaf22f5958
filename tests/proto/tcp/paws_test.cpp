// Timestamps after the handshake (RFC 7323): PAWS drops old segments (5.3,
// Linux tcp_paws_discard / tcp_validate_incoming), RSTs are exempt, TS.Recent
// only follows segments that cover Last.ACK.sent (4.3, Linux
// tcp_replace_ts_recent with rcv_wup), and every non-RST segment of a
// connection carries the option (3.2).
#include <doctest/doctest.h>

#include "tcp_rig.hpp"
#include "transfer_sim.hpp"

using namespace coronet;
using namespace coronet::test;
using std::chrono::milliseconds;

namespace {

constexpr std::uint16_t peer_port = 40000;

// The layer under test is a server; the test plays a client that offers MSS
// and timestamps, and keeps its own TSval clock.
struct ts_client {
  tcp_host h;
  conn_id c = 0;
  std::uint32_t iss = 0;        // the server's
  std::uint32_t snd = 1001;     // our next sequence number
  std::uint32_t server_ts = 0;  // the server's latest TSval (what we echo)
  time_point now{};

  explicit ts_client(const settings& s = {}) : h(server_addr, s) {
    auto l = h.L.listen(80, 16);
    REQUIRE(l);
    auto syn = seg(peer_port, 80, tf::syn, 1000);
    syn.options.mss = 1460;
    syn.options.timestamps = wire::tcp_timestamps{1000, 0};
    h.inject(client_addr, syn, {}, now);
    auto out = take();
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].h.options.timestamps);
    CHECK(out[0].h.options.timestamps->tsecr == 1000);
    iss = out[0].h.seq;
    in(tf::ack, 1001, {}, 1001);
    auto a = h.L.accept(*l);
    REQUIRE(a);
    c = *a;
    REQUIRE(h.L.info(c)->timestamps);
  }
  void in(std::uint8_t flags, std::uint32_t seq, bytes data, std::uint32_t tsval) {
    auto sg = seg(peer_port, 80, flags, seq, iss + 1);
    sg.options.timestamps = wire::tcp_timestamps{tsval, server_ts};
    h.inject(client_addr, sg, data, now);
  }
  // In-order data with `tsval`; the sequence moves on.
  void data(std::size_t n, std::uint32_t tsval) {
    auto p = pattern(n, static_cast<std::uint8_t>(snd));
    in(tf::ack | tf::psh, snd, p, tsval);
    snd += static_cast<std::uint32_t>(n);
  }
  std::vector<seg_record> take() {
    auto out = h.take();
    for (const auto& r : out)
      if (r.h.options.timestamps) server_ts = r.h.options.timestamps->tsval;
    return out;
  }
  // Lets delayed ACKs go out, then returns everything sent.
  std::vector<seg_record> settle() {
    for (time_point end = now + milliseconds(300); now < end;) {
      now += milliseconds(1);
      h.fire(now);
    }
    return take();
  }
  std::size_t read() {
    std::vector<std::uint8_t> buf(100000);
    return h.L.recv(c, buf, now);
  }
};

}  // namespace

TEST_CASE("PAWS: data with a TSval older than TS.Recent -> dropped, counted, answered with an ACK, not delivered") {
  ts_client t;
  t.data(100, 5000);  // TS.Recent = 5000
  auto acks = t.settle();
  REQUIRE_FALSE(acks.empty());
  CHECK(acks.back().h.options.timestamps->tsecr == 5000);
  CHECK(t.read() == 100);

  auto old = pattern(100, 1);
  t.in(tf::ack | tf::psh, t.snd, old, 4000);
  auto out = t.take();  // at once, not delayed (Linux tcp_send_dupack)
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::ack));
  CHECK(out[0].h.ack == t.snd);  // the data was not taken
  REQUIRE(out[0].h.options.timestamps);
  CHECK(out[0].h.options.timestamps->tsecr == 5000);  // TS.Recent unchanged
  CHECK(t.h.stats[drop::tcp_paws_estab] == 1);
  CHECK(t.read() == 0);

  // The same bytes with a current timestamp are accepted.
  t.in(tf::ack | tf::psh, t.snd, old, 5001);
  CHECK(t.read() == 100);
  CHECK(t.h.stats[drop::tcp_paws_estab] == 1);
  CHECK(t.h.L.info(t.c)->state == tcp_state::established);
}

TEST_CASE("PAWS: a RST with an old TSval at RCV.NXT -> still resets (RFC 7323 5.3 R1 exempts RSTs)") {
  ts_client t;
  t.data(100, 5000);
  t.settle();
  t.in(tf::rst, t.snd, {}, 10);
  CHECK(t.h.stats[drop::tcp_paws_estab] == 0);
  CHECK(t.h.L.info(t.c)->state == tcp_state::closed);
  CHECK(t.h.L.error(t.c) == std::errc::connection_reset);
}

TEST_CASE("PAWS: an in-window RST with an old TSval -> RFC 5961 challenge ACK, not a PAWS drop") {
  ts_client t;
  t.data(100, 5000);
  t.settle();
  t.in(tf::rst, t.snd + 500, {}, 10);
  auto out = t.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].is(tf::ack));
  CHECK(t.h.stats[counter::tcp_challenge_acks] == 1);
  CHECK(t.h.stats[drop::tcp_paws_estab] == 0);
  CHECK(t.h.L.info(t.c)->state == tcp_state::established);
}

TEST_CASE("PAWS: TS.Recent follows only segments covering Last.ACK.sent (RFC 7323 4.3)") {
  ts_client t;
  t.data(100, 5000);
  auto acks = t.settle();
  REQUIRE_FALSE(acks.empty());
  CHECK(acks.back().h.options.timestamps->tsecr == 5000);
  CHECK(t.read() == 100);

  // Out of order, with a much newer TSval: kept (or not), but TS.Recent stays.
  auto ahead = pattern(100, 2);
  t.in(tf::ack | tf::psh, t.snd + 1000, ahead, 900000);
  auto dup = t.take();
  REQUIRE(dup.size() == 1);  // RFC 5681 4.2: an out-of-order segment gets an immediate ACK
  CHECK(dup[0].h.ack == t.snd);
  REQUIRE(dup[0].h.options.timestamps);
  CHECK(dup[0].h.options.timestamps->tsecr == 5000);

  // In order again, TSval newer than 5000 but older than the out-of-order
  // segment's: acceptable, because TS.Recent never took 900000.
  t.data(1000, 5005);
  CHECK(t.h.stats[drop::tcp_paws_estab] == 0);
  CHECK(t.read() >= 1000);
  auto after = t.settle();
  REQUIRE_FALSE(after.empty());
  REQUIRE(after.back().h.options.timestamps);
  CHECK(after.back().h.options.timestamps->tsecr == 5005);
}

TEST_CASE("timestamps: every non-RST segment after the handshake carries TSval and TSecr (RFC 7323 3.2)") {
  transfer_spec spec;
  spec.bytes_up = spec.bytes_down = std::size_t{256} << 10;
  spec.link = {"1% loss", 0.01};
  transfer_sim t({}, {}, spec);
  REQUIRE(t.establish());
  bool done = t.exchange();
  INFO(t.summary());
  CHECK(done);
  if (done) CHECK(t.close_both());
  std::size_t checked = 0, missing = 0;
  for (const auto& s : t.s.link.segments()) {
    if (s.tcp.flags & tf::rst) continue;
    ++checked;
    if (!s.tcp.options.timestamps) ++missing;
  }
  CHECK(checked > 300);
  CHECK(missing == 0);
  CHECK(t.s.client.stats()[drop::tcp_paws_estab] == 0);
  CHECK(t.s.server.stats()[drop::tcp_paws_estab] == 0);
}
