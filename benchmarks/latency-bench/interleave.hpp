// benchmarks/latency-bench/interleave.hpp - tcp-ping --interleave-raw: whose
// turn it is, raw or TCP, before each round trip, and how many blocks each
// kind has taken (the result lines' blocks=N). Header-only and free of the
// rest of latency-bench, so tests/bench can check it alone.
//
// Raw goes first. A block of one kind lasts until it has kept `block`
// samples, then the other kind takes one: the warm-up of each kind (by time,
// from its own first round trip) falls inside its first block, and a raw
// frame lost keeps nothing, so it does not shorten a block. A kind that is
// done (its --count kept, or the time limit) hands the turn over, and a kind
// keeps the turn while the other is done. With the same --count for both,
// each takes ceil(count / block) blocks and the two finish one block apart.
#pragma once

#include <cstddef>
#include <cstdint>

namespace coronet::latency {

class interleave {
 public:
  static constexpr std::size_t block = 100;  // samples kept of one kind before the other's turn

  // Before a round trip, with each kind's samples kept so far and whether it
  // is done (not both): true for a raw round trip, false for a TCP one.
  bool raw_next(std::size_t tcp_kept, std::size_t raw_kept, bool tcp_done, bool raw_done) {
    const bool this_done = raw_turn_ ? raw_done : tcp_done, other_done = raw_turn_ ? tcp_done : raw_done;
    const std::size_t kept = raw_turn_ ? raw_kept : tcp_kept;
    if (!other_done && (this_done || kept - block_start_ >= block)) {
      raw_turn_ = !raw_turn_;
      block_start_ = raw_turn_ ? raw_kept : tcp_kept;
      block_counted_ = false;
    }
    if (!block_counted_) ++(raw_turn_ ? raw_blocks_ : tcp_blocks_);
    block_counted_ = true;
    return raw_turn_;
  }

  // Blocks in which each kind took at least one round trip.
  std::uint64_t raw_blocks() const noexcept { return raw_blocks_; }
  std::uint64_t tcp_blocks() const noexcept { return tcp_blocks_; }

 private:
  bool raw_turn_ = true;         // raw first
  std::size_t block_start_ = 0;  // the kind's samples kept when its block began
  bool block_counted_ = false;   // this block has taken a round trip
  std::uint64_t raw_blocks_ = 0, tcp_blocks_ = 0;
};

}  // namespace coronet::latency
