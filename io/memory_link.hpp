// io/memory_link.hpp - an in-process Ethernet link between two engines, for
// tests. Pure: no clock, no syscalls, no threads. Each direction is a queue of
// frames with delivery times; the caller passes `now` in and takes due frames
// out. Each direction can be told to lose, delay, hold back (reorder),
// duplicate or filter frames; a seeded RNG makes every run repeatable.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <vector>

#include "proto/types.hpp"
#include "proto/wire/ipv4.hpp"
#include "proto/wire/tcp.hpp"

namespace coronet::io {

// a_to_b is the first engine's transmit direction (the client in tests/proto/sim.hpp).
enum class link_dir : std::uint8_t { a_to_b = 0, b_to_a = 1 };

// A TCP segment seen on the link (recorded when offered, before loss).
struct seen_segment {
  time_point at{};
  link_dir dir = link_dir::a_to_b;
  ipv4_addr src, dst;
  wire::tcp_header tcp;
  std::size_t payload_len = 0;
  bool dropped = false;  // lost, filtered or drop_next'ed on the link
};

struct link_counters {
  std::uint64_t sent = 0;        // frames offered by the sender
  std::uint64_t dropped = 0;     // lost, filtered, drop_next
  std::uint64_t duplicated = 0;  // extra copies made
  std::uint64_t delivered = 0;   // frames handed out by pop()
};

class memory_link {
 public:
  // Decides whether to drop a frame (true: drop). Sees the whole Ethernet frame.
  using filter_fn = std::function<bool(bytes frame)>;

  explicit memory_link(std::uint64_t seed = 1);

  // --- programming one direction ---
  void drop_next(link_dir d, int n);            // the next n frames are lost
  void set_loss(link_dir d, double p);          // each frame lost with probability p
  void set_duplicate(link_dir d, double p);     // each frame delivered twice with probability p
  void set_delay(link_dir d, duration delay);   // fixed one-way delay (default 0)
  // Holds the next frame back until `k` later frames have been sent in the
  // same direction; it is then delivered right after the k-th one.
  void reorder_next(link_dir d, int k);
  void release_held(link_dir d, time_point now);  // give up holding: deliver at `now`
  void set_filter(link_dir d, filter_fn f);       // nullptr clears it
  // Shorthand for the two directions at once.
  void drop_next(int n) { drop_next(link_dir::a_to_b, n); drop_next(link_dir::b_to_a, n); }

  // --- traffic ---
  // The sender hands a frame over at `now`; it is copied.
  void send(link_dir d, bytes frame, time_point now);
  // Earliest delivery time over both directions (held frames excluded).
  std::optional<time_point> next_delivery() const;
  // Moves the first frame due at `now` into `out`; false when none is due.
  bool pop(link_dir d, time_point now, std::vector<std::uint8_t>& out);
  std::size_t in_flight(link_dir d) const;  // queued, including a held frame

  // --- inspection ---
  const link_counters& stats(link_dir d) const { return dirs_[idx(d)].stats; }
  // TCP segments offered in `d` whose flags, masked by `mask`, equal `flags`
  // (PSH/ECE/CWR/URG ignored by default): count(d, syn) counts bare SYNs,
  // count(d, syn | ack) SYN-ACKs.
  static constexpr std::uint8_t default_mask =
      wire::tcp_flag::fin | wire::tcp_flag::syn | wire::tcp_flag::rst | wire::tcp_flag::ack;
  std::size_t count(link_dir d, std::uint8_t flags, std::uint8_t mask = default_mask) const;
  std::size_t count(std::uint8_t flags, std::uint8_t mask = default_mask) const {
    return count(link_dir::a_to_b, flags, mask) + count(link_dir::b_to_a, flags, mask);
  }
  // Every TCP segment offered, both directions, in order.
  const std::vector<seen_segment>& segments() const { return seen_; }
  // ARP frames offered in `d` with the given opcode (1 request, 2 reply).
  std::size_t count_arp(link_dir d, std::uint16_t op) const;

  // Frame helpers for tests and filters: the TCP header of an Ethernet/IPv4/TCP
  // frame (checksum not verified), or nullopt.
  static std::optional<wire::tcp_header> tcp_of(bytes frame);
  // The same with the segment's payload length.
  struct frame_segment {
    wire::tcp_header h;
    std::size_t payload_len = 0;
  };
  static std::optional<frame_segment> segment_of(bytes frame);
  // True if `frame` is TCP with (flags & mask) == want.
  static bool is_tcp(bytes frame, std::uint8_t want, std::uint8_t mask = default_mask);

 private:
  struct queued {
    time_point at;
    std::uint64_t order;  // FIFO among equal times
    std::vector<std::uint8_t> data;
  };
  struct direction {
    int drop_next = 0;
    double loss = 0, duplicate = 0;
    duration delay{0};
    int reorder_k = 0;  // >0: hold the next frame
    std::optional<queued> held;
    int held_left = 0;  // frames still to pass the held one
    filter_fn filter;
    std::vector<queued> q;  // sorted by (at, order)
    link_counters stats;
    std::array<std::size_t, 3> arp_ops{};
  };
  static std::size_t idx(link_dir d) { return static_cast<std::size_t>(d); }
  double uniform();
  void enqueue(direction& dir, queued f);
  void record(link_dir d, bytes frame, time_point now, bool dropped);

  std::array<direction, 2> dirs_;
  std::mt19937_64 rng_;
  std::uint64_t order_ = 0;
  std::vector<seen_segment> seen_;
};

}  // namespace coronet::io
