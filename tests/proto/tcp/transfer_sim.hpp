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
// The functions are in transfer_sim.cpp.
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
digest stream_digest(std::uint64_t seed, std::size_t len);

// The link's record as text, one segment a line (for INFO in small scenarios):
// time, direction, flags, seq, ack, window, payload length, SACK blocks.
std::string segment_log(const io::memory_link& l, time_point from = {}, std::size_t max_lines = 200);

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
  bool establish(std::uint16_t port = 5001);

  // Both streams written and read in full (each byte checked, the digest
  // kept), within spec.time_limit of simulated time.
  bool exchange();

  // After exchange(): both sides have closed and the engines reported both
  // ids closed (CLOSED, or TIME-WAIT for whoever closed first).
  bool close_both();

  // Runs the applications and the network until `done()` holds or the clock
  // would pass `deadline`. An idle network (no timer, no frame) jumps straight
  // to the deadline. False on the deadline or the step limit, with `failure`.
  bool drive(const std::function<bool()>& done, time_point deadline);
  bool run_for(duration d);

  // Asks `from` to write `n` more bytes of its stream (to its peer `to`).
  void add_bytes(app_side& from, app_side& to, std::size_t n);

  duration exchange_time{};

  // One line per side for INFO(): progress, clocks and the loss-recovery counters.
  std::string summary() const;

  static std::string ms_string(time_point t) { return std::to_string(to_ms(t.time_since_epoch())) + " ms"; }
  static long long to_ms(duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

 private:
  static void setup(app_side& a, engine& e, conn_id c, std::vector<event>& evs, std::uint64_t out_seed,
                    std::uint64_t in_seed, std::size_t to_send, std::size_t to_recv);

  // Link filter: the test's own drops, then the reorder decision.
  bool on_frame(io::link_dir d, bytes f);

  std::optional<time_point> wakeup() const;
  // Everything that happens at s.now: the network moves, the applications
  // react to their events, until neither does anything more.
  void settle();

  // One application's reaction to its events; true if it did anything.
  bool app(app_side& a);

  void take_events(app_side& a);
  bool write(app_side& a);
  bool read(app_side& a);
  void check_bytes(app_side& a, bytes got);
  bool maybe_close(app_side& a);
  static void side_summary(std::ostringstream& o, const char* name, const app_side& a, const counters& st);

  double uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

  std::mt19937_64 rng_;
  std::array<std::optional<time_point>, 2> hold_until_;
  std::vector<std::uint8_t> chunk_ = std::vector<std::uint8_t>(1 << 16);
  std::vector<std::uint8_t> expect_;
  time_point start_{};
};

}  // namespace coronet::test
