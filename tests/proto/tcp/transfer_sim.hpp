// tests/proto/tcp/transfer_sim.hpp - bulk transfers between the two engines of
// tests/proto/sim.hpp, driven the way an application drives a socket: each
// side writes a deterministic pseudo-random stream until send() comes up
// short, then waits for `writable`; reads on `readable` until recv() returns
// 0; shuts down its sending half once everything is queued and closes once it
// has the peer's whole stream and its FIN. The receiver checks every byte
// against the stream and hashes what it read (SHA-256), so a test compares
// digests as well as lengths.
//
//   transfer_spec spec;                   // 8 MiB each way, 5 ms one-way delay
//   spec.link = {"1% loss", 0.01};
//   transfer_sim t(cs, ss, spec);
//   REQUIRE(t.establish());
//   bool done = t.exchange();             // false: time, step or stall limit hit
//   INFO(t.summary());
//   CHECK(done);
//   CHECK(t.close_both());
//
// Probabilistic reordering rides on memory_link's filter: for a fraction of
// frames the filter calls reorder_next(), so the frame is held back behind
// 1..reorder_max later ones (and released after `delay` if none come, as a
// real path's reordering is bounded in time). Every drive loop is bounded by
// simulated time and by a step count: a stuck transfer fails, it never hangs.
#pragma once

#include <doctest/doctest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "proto/engine.hpp"
#include "proto/wire/ethernet.hpp"
#include "proto/wire/ipv4.hpp"
#include "proto/wire/tcp.hpp"
#include "tests/proto/sim.hpp"

namespace coronet::test {

using namespace std::chrono_literals;

// Byte i of the stream named `seed`: splitmix64 of (seed, i / 8), so any
// stretch can be produced from its offset without keeping the whole stream.
class byte_stream {
 public:
  explicit byte_stream(std::uint64_t seed) : seed_(seed) {}
  void fill(std::uint64_t offset, mut_bytes out) const {
    // Word at a time (the sanitizer build runs this over every byte thrice).
    std::uint8_t* p = out.data();
    std::size_t left = out.size();
    while (left > 0) {
      std::uint64_t word = mix(seed_ * 0x9e3779b97f4a7c15ull + offset / 8);
      if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
      std::size_t skip = offset % 8, n = std::min<std::size_t>(8 - skip, left);
      std::memcpy(p, reinterpret_cast<const std::uint8_t*>(&word) + skip, n);
      p += n;
      offset += n;
      left -= n;
    }
  }

 private:
  static std::uint64_t mix(std::uint64_t z) {  // splitmix64's finaliser
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t seed_;
};

using digest = std::array<std::uint8_t, crypto_hash_sha256_BYTES>;

// SHA-256 of the first `len` bytes of stream `seed`, computed once per pair.
inline digest stream_digest(std::uint64_t seed, std::size_t len) {
  static std::map<std::pair<std::uint64_t, std::size_t>, digest> cache;
  auto key = std::make_pair(seed, len);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  REQUIRE(sodium_init() >= 0);
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  std::vector<std::uint8_t> buf(1 << 16);
  byte_stream s(seed);
  for (std::size_t off = 0; off < len;) {
    std::size_t n = std::min(buf.size(), len - off);
    s.fill(off, mut_bytes(buf.data(), n));
    crypto_hash_sha256_update(&st, buf.data(), n);
    off += n;
  }
  digest d{};
  crypto_hash_sha256_final(&st, d.data());
  cache.emplace(key, d);
  return d;
}

// A TCP segment inside an Ethernet frame: its header and payload length.
struct frame_tcp {
  wire::tcp_header h;
  std::size_t payload_len = 0;
};
inline std::optional<frame_tcp> parse_tcp_frame(bytes frame) {
  auto eth = wire::ethernet_view::parse(frame);
  if (!eth || eth->header().type != static_cast<std::uint16_t>(wire::ethertype::ipv4)) return std::nullopt;
  auto ip = wire::ipv4_view::parse(eth->payload());
  if (!ip || ip->header().proto != static_cast<std::uint8_t>(wire::ip_proto::tcp)) return std::nullopt;
  auto tcp = wire::tcp_view::parse(ip->payload(), ip->header().src, ip->header().dst, false);
  if (!tcp) return std::nullopt;
  return frame_tcp{tcp->header(), tcp->payload().size()};
}

// The link's record as text, one segment a line (for INFO in small scenarios):
// time, direction, flags, seq, ack, window, payload length, SACK blocks.
inline std::string segment_log(const io::memory_link& l, time_point from = {}, std::size_t max_lines = 200) {
  std::ostringstream o;
  std::size_t n = 0;
  for (const auto& s : l.segments()) {
    if (s.at < from) continue;
    if (++n > max_lines) {
      o << "...\n";
      break;
    }
    const auto& h = s.tcp;
    o << std::chrono::duration_cast<std::chrono::microseconds>(s.at.time_since_epoch()).count() << "us "
      << (s.dir == io::link_dir::a_to_b ? "c>s " : "s>c ");
    for (auto [f, c] : {std::pair{wire::tcp_flag::syn, 'S'}, std::pair{wire::tcp_flag::fin, 'F'},
                        std::pair{wire::tcp_flag::rst, 'R'}, std::pair{wire::tcp_flag::ack, '.'}})
      if (h.flags & f) o << c;
    o << " seq " << h.seq << " ack " << h.ack << " win " << h.window << " len " << s.payload_len;
    for (std::uint8_t i = 0; i < h.options.sack_count; ++i)
      o << " sack " << h.options.sack[i].left << "-" << h.options.sack[i].right;
    if (h.options.timestamps) o << " ts " << h.options.timestamps->tsval << "/" << h.options.timestamps->tsecr;
    if (s.dropped) o << " LOST";
    o << "\n";
  }
  return o.str();
}

struct link_profile {
  const char* name = "clean";
  double loss = 0;       // per frame, each direction
  double duplicate = 0;  // per frame, each direction
  double reorder = 0;    // fraction of frames held back behind later ones
  int reorder_max = 3;   // held behind 1..reorder_max later frames
};

struct transfer_spec {
  std::size_t bytes_up = std::size_t{8} << 20;    // client -> server
  std::size_t bytes_down = std::size_t{8} << 20;  // server -> client
  link_profile link;
  duration delay = 5ms;                 // one way, both directions
  duration time_limit = 120s;           // simulated time for exchange(), from the first byte
  duration close_limit = 120s;          // simulated time for close_both()
  long step_limit = 4'000'000;          // clock jumps over the whole run
  std::uint64_t seed = 1;               // streams, link loss and reordering
};

// One endpoint's application: what it has written, read and seen.
struct app_side {
  engine* e = nullptr;
  conn_id c = 0;
  std::vector<event>* events = nullptr;
  std::size_t seen = 0;  // events consumed

  byte_stream out{0}, in{0};
  std::uint64_t out_seed = 0, in_seed = 0;
  std::size_t to_send = 0, to_recv = 0;
  std::size_t sent = 0, received = 0;
  crypto_hash_sha256_state hash{};          // of everything read so far
  std::optional<std::size_t> first_mismatch;  // offset of the first wrong byte read

  bool reading = true;      // tests pause the reader to close the window
  bool auto_close = true;   // shutdown_send when all is queued, close after EOF
  bool can_write = true;    // false after a short send(), until `writable`
  bool can_read = true;     // set by `readable`; cleared when recv() returns 0
  bool eof = false, shut = false, closed_called = false;
  bool closed_event = false;
  std::optional<event> reset;  // a `reset` event (error inside)
  std::optional<time_point> all_sent_at, all_read_at;

  bool done_streams() const { return sent == to_send && received == to_recv; }
  bool done_receiving() const { return received == to_recv && eof; }
  digest read_digest() const {
    crypto_hash_sha256_state st = hash;  // finalise a copy: reading may go on
    digest d{};
    crypto_hash_sha256_final(&st, d.data());
    return d;
  }
  bool digest_ok() const { return received == to_recv && read_digest() == stream_digest(in_seed, to_recv); }
};

class transfer_sim {
 public:
  sim s;
  transfer_spec spec;
  app_side client_app, server_app;
  listener_id listener = 0;
  long steps = 0;
  std::string failure;  // why the last drive stopped short
  // Extra loss decided by the test, per direction (true: drop the frame);
  // consulted before the reorder decision.
  std::array<std::function<bool(bytes)>, 2> drop_filter;

  transfer_sim(const settings& cs, const settings& ss, const transfer_spec& sp)
      : s(cs, ss, 1, 2, sp.seed * 7919 + 3), spec(sp), rng_(sp.seed * 104729 + 11) {
    REQUIRE(sodium_init() >= 0);
    s.max_steps = 1'000'000;
    for (io::link_dir d : {sim::c2s, sim::s2c}) {
      s.link.set_delay(d, spec.delay);
      s.link.set_loss(d, spec.link.loss);
      s.link.set_duplicate(d, spec.link.duplicate);
      s.link.set_filter(d, [this, d](bytes f) { return on_frame(d, f); });
    }
  }
  transfer_sim(const transfer_sim&) = delete;
  transfer_sim& operator=(const transfer_sim&) = delete;

  // listen, connect, accept; the link's impairments apply to the handshake too.
  bool establish(std::uint16_t port = 5001) {
    auto l = s.server.listen(port, 16);
    REQUIRE(l.has_value());
    listener = *l;
    auto c = s.connect(s.server_ep(port));
    REQUIRE(c.has_value());
    std::optional<conn_id> a;
    bool ok = drive(
        [&] {
          if (!a) a = s.server.accept(listener);
          return a && sim::has_event(s.client_events, event::kind::connected, *c);
        },
        s.now + 200s);
    if (!ok) return false;
    setup(client_app, s.client, *c, s.client_events, spec.seed * 2 + 1, spec.seed * 2 + 2, spec.bytes_up,
          spec.bytes_down);
    setup(server_app, s.server, *a, s.server_events, spec.seed * 2 + 2, spec.seed * 2 + 1, spec.bytes_down,
          spec.bytes_up);
    return true;
  }

  // Both streams written and read in full (each byte checked, the digest
  // kept), within spec.time_limit of simulated time.
  bool exchange() {
    start_ = s.now;
    bool ok = drive([&] { return client_app.done_streams() && server_app.done_streams(); },
                    s.now + spec.time_limit);
    exchange_time = s.now - start_;
    return ok;
  }

  // After exchange(): both sides have closed and the engines reported both
  // ids closed (CLOSED, or TIME-WAIT for whoever closed first).
  bool close_both() {
    return drive([&] { return client_app.closed_event && server_app.closed_event; }, s.now + spec.close_limit);
  }

  // Runs the applications and the network until `done()` holds or the clock
  // would pass `deadline`. An idle network (no timer, no frame) jumps straight
  // to the deadline. False on the deadline or the step limit, with `failure`.
  bool drive(const std::function<bool()>& done, time_point deadline) {
    for (; steps < spec.step_limit; ++steps) {
      settle();
      if (done()) return true;
      auto next = wakeup();
      if (!next || *next > deadline) {
        if (s.now < deadline) {
          s.now = deadline;
          settle();
          if (done()) return true;
        }
        failure = "deadline reached at t=" + ms_string(s.now) + (next ? "" : " (network idle)");
        return false;
      }
      s.now = std::max(s.now, *next);
    }
    failure = "step limit (" + std::to_string(spec.step_limit) + ") reached at t=" + ms_string(s.now);
    return false;
  }
  bool run_for(duration d) {
    time_point until = s.now + d;
    return drive([&] { return s.now >= until; }, until);
  }

  // Asks `from` to write `n` more bytes of its stream (to its peer `to`).
  void add_bytes(app_side& from, app_side& to, std::size_t n) {
    from.to_send += n;
    from.all_sent_at.reset();
    to.to_recv += n;
    to.all_read_at.reset();
  }

  duration exchange_time{};

  // One line per side for INFO(): progress, clocks and the loss-recovery counters.
  std::string summary() const {
    std::ostringstream o;
    o << "link " << spec.link.name << ", t=" << ms_string(s.now) << " exchange " << to_ms(exchange_time)
      << " ms, steps " << steps << (failure.empty() ? "" : ", stopped: " + failure) << "\n";
    side_summary(o, "client", client_app, s.client.stats());
    side_summary(o, "server", server_app, s.server.stats());
    for (io::link_dir d : {sim::c2s, sim::s2c}) {
      const auto& l = s.link.stats(d);
      o << (d == sim::c2s ? "c2s" : "s2c") << " frames sent " << l.sent << " dropped " << l.dropped
        << " duplicated " << l.duplicated << " delivered " << l.delivered << "\n";
    }
    return o.str();
  }

  static std::string ms_string(time_point t) { return std::to_string(to_ms(t.time_since_epoch())) + " ms"; }
  static long long to_ms(duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

 private:
  static void setup(app_side& a, engine& e, conn_id c, std::vector<event>& evs, std::uint64_t out_seed,
                    std::uint64_t in_seed, std::size_t to_send, std::size_t to_recv) {
    a.e = &e;
    a.c = c;
    a.events = &evs;
    a.seen = evs.size();
    a.out = byte_stream(out_seed);
    a.in = byte_stream(in_seed);
    a.out_seed = out_seed;
    a.in_seed = in_seed;
    a.to_send = to_send;
    a.to_recv = to_recv;
    crypto_hash_sha256_init(&a.hash);
  }

  // Link filter: the test's own drops, then the reorder decision.
  bool on_frame(io::link_dir d, bytes f) {
    auto i = static_cast<std::size_t>(d);
    if (drop_filter[i] && drop_filter[i](f)) return true;
    if (spec.link.reorder > 0 && uniform() < spec.link.reorder) {
      int k = 1 + static_cast<int>(rng_() % static_cast<std::uint64_t>(std::max(1, spec.link.reorder_max)));
      s.link.reorder_next(d, k);
      hold_until_[i] = s.now + std::max<duration>(spec.delay, 1ms);
    }
    return false;
  }

  std::optional<time_point> wakeup() const {
    auto t = s.next_wakeup();
    for (const auto& h : hold_until_)
      if (h && (!t || *h < *t)) t = h;
    return t;
  }

  // Everything that happens at s.now: the network moves, the applications
  // react to their events, until neither does anything more.
  void settle() {
    for (int round = 0; round < 100000; ++round) {
      for (std::size_t i = 0; i < 2; ++i) {
        if (hold_until_[i] && *hold_until_[i] <= s.now) {
          s.link.release_held(static_cast<io::link_dir>(i), s.now);
          hold_until_[i].reset();
        }
      }
      s.step();
      bool moved = app(client_app);
      moved |= app(server_app);
      if (!moved) return;
    }
    FAIL("transfer_sim::settle: the applications never stop moving at t=" << ms_string(s.now));
  }

  // One application's reaction to its events; true if it did anything.
  bool app(app_side& a) {
    if (a.e == nullptr || a.closed_called) {
      if (a.e) take_events(a);
      return false;
    }
    take_events(a);
    bool moved = false;
    moved |= write(a);
    moved |= read(a);
    if (a.auto_close) moved |= maybe_close(a);
    return moved;
  }

  void take_events(app_side& a) {
    for (; a.seen < a.events->size(); ++a.seen) {
      const event& ev = (*a.events)[a.seen];
      if (ev.conn != a.c) continue;
      switch (ev.what) {
        case event::kind::readable: a.can_read = true; break;
        case event::kind::writable: a.can_write = true; break;
        case event::kind::reset: a.reset = ev; break;
        case event::kind::closed: a.closed_event = true; break;
        default: break;
      }
    }
  }

  bool write(app_side& a) {
    if (a.reset || !a.can_write || a.sent == a.to_send || a.shut) return false;
    bool moved = false;
    for (int i = 0; i < 1024 && a.sent < a.to_send; ++i) {
      std::size_t want = std::min(chunk_.size(), a.to_send - a.sent);
      a.out.fill(a.sent, mut_bytes(chunk_.data(), want));
      std::size_t n = a.e->send(a.c, bytes(chunk_.data(), want), s.now);
      a.sent += n;
      moved |= n > 0;
      if (n < want) {
        a.can_write = false;  // wait for `writable`
        break;
      }
    }
    if (a.sent == a.to_send && !a.all_sent_at) a.all_sent_at = s.now;
    return moved;
  }

  bool read(app_side& a) {
    if (!a.reading || !a.can_read) return false;
    bool moved = false;
    for (int i = 0; i < 100000; ++i) {
      std::size_t n = a.e->recv(a.c, chunk_, s.now);
      if (n == 0) break;
      moved = true;
      check_bytes(a, bytes(chunk_.data(), n));
      crypto_hash_sha256_update(&a.hash, chunk_.data(), n);
      a.received += n;
    }
    a.can_read = false;
    if (!a.eof && a.e->at_eof(a.c)) {
      a.eof = true;
      moved = true;
    }
    if (a.received >= a.to_recv && !a.all_read_at) a.all_read_at = s.now;
    return moved;
  }

  void check_bytes(app_side& a, bytes got) {
    if (a.first_mismatch) return;
    if (a.received + got.size() > a.to_recv) {
      a.first_mismatch = a.to_recv;  // more than the peer ever wrote
      return;
    }
    expect_.resize(got.size());
    a.in.fill(a.received, expect_);
    if (std::memcmp(got.data(), expect_.data(), got.size()) == 0) return;
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (got[i] != expect_[i]) {
        a.first_mismatch = a.received + i;
        return;
      }
    }
  }

  bool maybe_close(app_side& a) {
    bool moved = false;
    if (!a.shut && a.sent == a.to_send) {
      a.e->shutdown_send(a.c, s.now);  // FIN after the queued data
      a.shut = true;
      moved = true;
    }
    if (a.shut && a.done_receiving()) {
      a.e->close(a.c, s.now);
      a.closed_called = true;
      moved = true;
    }
    return moved;
  }

  static void side_summary(std::ostringstream& o, const char* name, const app_side& a, const counters& st) {
    o << name << ": sent " << a.sent << "/" << a.to_send << " read " << a.received << "/" << a.to_recv
      << (a.eof ? " eof" : "") << (a.reset ? " RESET" : "") << (a.closed_event ? " closed" : "");
    if (a.first_mismatch) o << " FIRST WRONG BYTE at " << *a.first_mismatch;
    if (a.e && !a.closed_called) {
      if (auto i = a.e->info(a.c)) o << " state " << to_string(i->state);
    }
    for (counter c : {counter::tcp_out_segs, counter::tcp_retrans_segs, counter::tcp_timeouts,
                      counter::tcp_fast_retrans, counter::tcp_sack_recovery, counter::tcp_reno_recovery,
                      counter::tcp_loss_probes, counter::tcp_ofo_queue, counter::tcp_dsack_old_sent,
                      counter::tcp_dsack_recv, counter::tcp_win_probe, counter::tcp_delayed_acks}) {
      if (st[c]) o << " " << counter_name(c) << "=" << st[c];
    }
    for (drop d : {drop::tcp_out_of_window, drop::tcp_ofo_full, drop::tcp_rcvbuf_full, drop::tcp_paws_estab,
                   drop::tcp_bad_ack, drop::tx_queue_full}) {
      if (st[d]) o << " " << drop_name(d) << "=" << st[d];
    }
    o << "\n";
  }

  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

  std::mt19937_64 rng_;
  std::array<std::optional<time_point>, 2> hold_until_;
  std::vector<std::uint8_t> chunk_ = std::vector<std::uint8_t>(1 << 16);
  std::vector<std::uint8_t> expect_;
  time_point start_{};
};

}  // namespace coronet::test
