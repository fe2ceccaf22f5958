// tests/proto/tcp/fast_path_test.cpp - TCP's fast paths (proto/tcp/fast_path.cpp:
// header prediction on input, the one-segment transmit on output) against
// the general path: the same simulated exchanges run twice, fast paths on and
// off, and everything observable must come out the same - every frame on the
// link byte for byte, every TCP segment (header, options, payload length,
// time), every event, every counter but the three that count the fast
// paths, and each connection's tcp_info at the end. The exchanges are chosen so that connections move in
// and out of the fast path: request/response with messages of 1 byte to a
// few segments, one-way and two-way bulk, over clean and impaired links, with
// each combination of SACK and timestamps.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "proto/engine.hpp"
#include "proto/wire/tcp.hpp"
#include "transfer_sim.hpp"

using namespace coronet;
using namespace coronet::test;
using namespace std::chrono_literals;

namespace {

struct option_set {
  const char* name;
  bool sack, timestamps;
};
constexpr option_set option_sets[] = {
    {"SACK+TS", true, true}, {"no SACK, no TS", false, false}, {"SACK only", true, false}, {"TS only", false, true}};

constexpr link_profile links[] = {
    {"clean", 0, 0, 0, 3},
    {"2% loss", 0.02, 0, 0, 3},
    {"2% duplicated", 0, 0.02, 0, 3},
    {"3% reordered", 0, 0, 0.03, 3},
    {"1% loss + 1% duplicated + 2% reordered", 0.01, 0.01, 0.02, 3},
};

settings make_settings(const option_set& o) {
  settings st;
  st.tcp_sack = o.sack;
  st.tcp_timestamps = o.timestamps;
  return st;
}

std::string describe(const conn_info& i) {
  std::ostringstream o;
  o << "state=" << static_cast<int>(i.state) << " ca=" << i.ca_state << " cwnd=" << i.cwnd << " ssthresh=" << i.ssthresh
    << " snd_wnd=" << i.snd_wnd << " rcv_wnd=" << i.rcv_wnd << " srtt=" << i.srtt.count()
    << " rttvar=" << i.rttvar.count() << " rto=" << i.rto.count() << " min_rtt=" << i.min_rtt.count()
    << " unacked=" << i.unacked << " sacked=" << i.sacked << " lost=" << i.lost << " retrans=" << i.retrans
    << " backoff=" << i.backoff << " reordering=" << i.reordering_seen << " send_queue=" << i.send_queue
    << " recv_queue=" << i.recv_queue << " sndbuf=" << i.sndbuf << " rcvbuf=" << i.rcvbuf
    << " segs_in=" << i.segs_in << " segs_out=" << i.segs_out << " data_in=" << i.data_segs_in
    << " data_out=" << i.data_segs_out << " retrans_segs=" << i.retrans_segs << " rto_exp=" << i.rto_expiries
    << " fast_retrans=" << i.fast_retrans << " tlp=" << i.tlp_probes << " ofo=" << i.ofo_segs
    << " dup_in=" << i.dup_segs_in << " dsacks=" << i.dsacks_in << " dupacks=" << i.dup_acks_in
    << " probes=" << i.win_probes << " zwnd=" << i.zero_window_adv << " bytes_acked=" << i.bytes_acked
    << " delivered=" << i.delivered << " sent=" << i.bytes_sent << " received=" << i.bytes_received;
  return o.str();
}

bool counts_fast_path(std::string_view name) {
  return name == "TcpExtTCPHPHits" || name == "TcpExtTCPHPAcks" || name == "TcpExtTCPFastXmit";
}

// Every counter and drop but those that count the fast paths, by name.
std::vector<std::string> other_counters(const counters& c) {
  std::vector<std::string> out;
  c.for_each([&](std::string_view name, std::uint64_t v) {
    if (!counts_fast_path(name)) out.push_back(std::string(name) + "=" + std::to_string(v));
  });
  return out;
}

std::uint64_t fast_path_count(const counters& c) {
  return c[counter::tcp_hp_hits] + c[counter::tcp_hp_acks] + c[counter::tcp_fast_xmit];
}

// Every frame either engine offers the link, in order, whole.
struct frame_log {
  std::vector<std::vector<std::uint8_t>> frames;
  void attach(transfer_sim& t) {
    for (std::size_t i = 0; i < 2; ++i)
      t.drop_filter[i] = [this](bytes f) {
        frames.emplace_back(f.begin(), f.end());
        return false;
      };
  }
};

std::string seg_line(const io::seen_segment& s) {
  std::ostringstream o;
  o << "t=" << s.at.time_since_epoch().count() << (s.dir == sim::c2s ? " c>s" : " s>c") << " seq=" << s.tcp.seq
    << " ack=" << s.tcp.ack << " flags=" << static_cast<int>(s.tcp.flags) << " win=" << s.tcp.window
    << " len=" << s.payload_len << " sack=" << static_cast<int>(s.tcp.options.sack_count)
    << (s.dropped ? " dropped" : "");
  return o.str();
}

// What one run leaves behind for the comparison.
struct outcome {
  std::vector<std::vector<std::uint8_t>> frames;
  std::vector<io::seen_segment> segments;
  std::vector<event> client_events, server_events;
  counters client_stats, server_stats;
  std::string client_info, server_info;
  bool completed = false;
};

void require_same(const outcome& on, const outcome& off) {
  REQUIRE(on.completed);
  REQUIRE(off.completed);
  std::size_t n = std::min(on.segments.size(), off.segments.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto& a = on.segments[i];
    const auto& b = off.segments[i];
    bool same = a.at == b.at && a.dir == b.dir && a.tcp == b.tcp && a.payload_len == b.payload_len &&
                a.dropped == b.dropped;
    if (!same) {
      INFO("segment " << i << " of " << n);
      INFO("fast path on:  " << seg_line(a));
      INFO("fast path off: " << seg_line(b));
      FAIL("the segments differ");
    }
  }
  CHECK(on.segments.size() == off.segments.size());
  REQUIRE(on.frames.size() == off.frames.size());
  for (std::size_t i = 0; i < on.frames.size(); ++i) {
    if (on.frames[i] != off.frames[i]) {
      INFO("frame " << i << " of " << on.frames.size() << " differs (" << on.frames[i].size() << " and "
                    << off.frames[i].size() << " bytes)");
      FAIL("the frames differ");
    }
  }
  auto same_events = [](const std::vector<event>& x, const std::vector<event>& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (x[i].what != y[i].what || x[i].conn != y[i].conn || x[i].error != y[i].error) return false;
    return true;
  };
  CHECK(same_events(on.client_events, off.client_events));
  CHECK(same_events(on.server_events, off.server_events));
  CHECK(other_counters(on.client_stats) == other_counters(off.client_stats));
  CHECK(other_counters(on.server_stats) == other_counters(off.server_stats));
  CHECK(on.client_info == off.client_info);
  CHECK(on.server_info == off.server_info);
  // The comparison means something only if the general path ran alone in
  // one run (and the fast paths did real work in the other: the callers check).
  CHECK(fast_path_count(off.client_stats) == 0);
  CHECK(fast_path_count(off.server_stats) == 0);
}

// Fast paths on or off on both ends, every frame logged, the connection
// established; the applications do not close it (the state is read first).
void start(transfer_sim& t, bool fast_paths, frame_log& log) {
  t.s.client.set_fast_paths(fast_paths);
  t.s.server.set_fast_paths(fast_paths);
  log.attach(t);
  REQUIRE(t.establish());
  t.client_app.auto_close = t.server_app.auto_close = false;
}

// Both connections' tcp_info, while they are open.
void take_state(outcome& out, transfer_sim& t) {
  auto ci = t.s.client.info(t.client_app.c);
  auto si = t.s.server.info(t.server_app.c);
  REQUIRE(ci);
  REQUIRE(si);
  out.client_info = describe(*ci);
  out.server_info = describe(*si);
}

// What the link, the events and the counters recorded over the whole run.
void take_record(outcome& out, transfer_sim& t, frame_log& log) {
  out.segments = t.s.link.segments();
  out.frames = std::move(log.frames);
  out.client_events = t.s.client_events;
  out.server_events = t.s.server_events;
  out.client_stats = t.s.client.stats();
  out.server_stats = t.s.server.stats();
}

// Request/response: the client writes a message (1 byte to a few segments:
// up to max_message bytes),
// the server writes back what it reads, the client reads it all, and so on.
// Link impairments as in transfer_sim (loss, duplication, reordering).
outcome run_echo(bool hp, const option_set& o, const link_profile& lp, int messages, std::uint64_t seed,
                 std::size_t max_message = 4000) {
  transfer_spec spec;
  spec.link = lp;
  spec.delay = 1ms;
  spec.bytes_up = spec.bytes_down = 0;
  spec.seed = seed;
  transfer_sim t(make_settings(o), make_settings(o), spec);
  frame_log log;
  start(t, hp, log);
  const conn_id c = t.client_app.c, a = t.server_app.c;

  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> size_of(1, max_message);
  byte_stream stream(seed);
  std::vector<std::uint8_t> buf(8192), expect, pending;
  std::size_t written = 0, echoed = 0, message_end = 0;
  int done = 0;
  auto app = [&] {
    for (int guard = 0; guard < 64; ++guard) {
      bool moved = false;
      if (written < message_end) {
        std::size_t n = std::min(buf.size(), message_end - written);
        stream.fill(written, mut_bytes(buf.data(), n));
        std::size_t k = t.s.client.send(c, bytes(buf.data(), n), t.s.now);
        written += k;
        moved |= k > 0;
      }
      std::size_t r = t.s.server.recv(a, buf, t.s.now);
      pending.insert(pending.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r));
      if (!pending.empty()) {
        std::size_t k = t.s.server.send(a, pending, t.s.now);
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(k));
        moved |= k > 0;
      }
      std::size_t back = t.s.client.recv(c, buf, t.s.now);
      if (back > 0) {
        expect.resize(back);
        stream.fill(echoed, expect);
        REQUIRE(std::equal(expect.begin(), expect.end(), buf.begin()));
        echoed += back;
      }
      moved |= r > 0 || back > 0;
      if (echoed == message_end && done < messages) {
        ++done;
        message_end += size_of(rng);
        moved = true;
      }
      if (!moved) return;
    }
  };
  const time_point limit = t.s.now + 600s;
  for (long i = 0; i < 2'000'000 && !(done == messages && echoed == message_end); ++i) {
    app();
    t.s.step();
    app();
    auto next = t.s.next_wakeup();
    if (!next || *next > limit) break;
    t.s.now = std::max(t.s.now, *next);
  }
  outcome out;
  out.completed = done == messages && echoed == message_end;
  take_state(out, t);
  take_record(out, t, log);
  return out;
}

// Bulk transfer (transfer_sim's streams), one way or both.
outcome run_bulk(bool hp, const option_set& o, const link_profile& lp, std::size_t up, std::size_t down) {
  transfer_spec spec;
  spec.link = lp;
  spec.bytes_up = up;
  spec.bytes_down = down;
  transfer_sim t(make_settings(o), make_settings(o), spec);
  frame_log log;
  start(t, hp, log);
  outcome out;
  out.completed = t.exchange() && t.client_app.digest_ok() && t.server_app.digest_ok();
  take_state(out, t);
  t.client_app.auto_close = t.server_app.auto_close = true;
  out.completed = out.completed && t.close_both();
  take_record(out, t, log);
  return out;
}

}  // namespace

TEST_CASE("fast paths: request/response of one segment each, clean link -> nearly every segment takes them, the same as without") {
  for (const option_set& o : option_sets) {
    CAPTURE(std::string(o.name));
    outcome on = run_echo(true, o, links[0], 300, 1, 1000);
    std::uint64_t data_segments = 0;
    for (const auto& s : on.segments)
      if (s.payload_len > 0) ++data_segments;
    std::uint64_t hits = on.client_stats[counter::tcp_hp_hits] + on.server_stats[counter::tcp_hp_hits];
    std::uint64_t fast_out = on.client_stats[counter::tcp_fast_xmit] + on.server_stats[counter::tcp_fast_xmit];
    CHECK(data_segments >= 600);
    // Every message is one segment each way, written while nothing is in
    // flight: all of them should go out and come in by the fast paths but
    // for the odd one (the first, which finds the handshake's state).
    CHECK(hits * 100 >= data_segments * 98);
    CHECK(fast_out * 100 >= data_segments * 98);
    outcome off = run_echo(false, o, links[0], 300, 1, 1000);
    require_same(on, off);
  }
}

TEST_CASE("fast paths: request/response of up to three segments, clean link -> the same as without") {
  for (const option_set& o : option_sets) {
    CAPTURE(std::string(o.name));
    // Later segments of a message ACK only part of what is in flight, or
    // find data waiting, and a write leaves more than one segment to send:
    // the fast paths step aside for those and take the rest.
    outcome on = run_echo(true, o, links[0], 200, 1);
    CHECK(on.client_stats[counter::tcp_hp_hits] + on.server_stats[counter::tcp_hp_hits] > 0);
    CHECK(on.client_stats[counter::tcp_fast_xmit] + on.server_stats[counter::tcp_fast_xmit] > 0);
    outcome off = run_echo(false, o, links[0], 200, 1);
    require_same(on, off);
  }
}

TEST_CASE("fast paths: request/response over impaired links -> the same frames, events and state as the general path") {
  for (const link_profile& lp : links) {
    for (const option_set& o : option_sets) {
      CAPTURE(std::string(lp.name));
      CAPTURE(std::string(o.name));
      for (std::uint64_t seed : {11u, 12u}) {
        CAPTURE(seed);
        outcome on = run_echo(true, o, lp, 120, seed);
        outcome off = run_echo(false, o, lp, 120, seed);
        require_same(on, off);
        CHECK(on.client_stats[counter::tcp_hp_hits] + on.server_stats[counter::tcp_hp_hits] > 0);
        CHECK(on.client_stats[counter::tcp_fast_xmit] + on.server_stats[counter::tcp_fast_xmit] > 0);
      }
    }
  }
}

TEST_CASE("fast paths: bulk one way and both ways, impaired links -> the same as the general path") {
  constexpr std::size_t bulk = std::size_t{1} << 20;
  for (const link_profile& lp : {links[0], links[1], links[4]}) {
    for (const option_set& o : {option_sets[0], option_sets[1]}) {
      CAPTURE(std::string(lp.name));
      CAPTURE(std::string(o.name));
      {
        INFO("one way: the receiver's data segments are predicted, the sender's ACKs mostly not");
        outcome on = run_bulk(true, o, lp, bulk, 0);
        outcome off = run_bulk(false, o, lp, bulk, 0);
        require_same(on, off);
        CHECK(on.server_stats[counter::tcp_hp_hits] > 0);
      }
      {
        INFO("both ways");
        outcome on = run_bulk(true, o, lp, bulk, bulk);
        outcome off = run_bulk(false, o, lp, bulk, bulk);
        require_same(on, off);
      }
    }
  }
}
