// proto/tcp/seq_ranges.hpp - a bounded set of disjoint sequence ranges
// [start, end), kept sorted: the receiver's out-of-order map (the bytes
// themselves sit in the receive ring at their offsets). Fixed capacity, no
// allocation: when a new, separate range would not fit, add() refuses it and
// the caller drops the segment (the sender repairs it like a loss).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "proto/tcp/seq.hpp"

namespace coronet::tcp {

struct seq_range {
  std::uint32_t start = 0, end = 0;
  bool operator==(const seq_range&) const = default;
  bool contains(std::uint32_t s, std::uint32_t e) const { return seq_leq(start, s) && seq_leq(e, end); }
};

template <std::size_t N>
class seq_ranges {
 public:
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  bool full() const { return n_ == N; }
  const seq_range& operator[](std::size_t i) const { return r_[i]; }
  const seq_range& front() const { return r_[0]; }
  const seq_range& back() const { return r_[n_ - 1]; }
  void clear() { n_ = 0; }

  // Adds [s, e) and merges it with every range it overlaps or touches.
  // Returns the range that now holds it, or nullopt (nothing changed) when it
  // would be a new range and the set is full.
  std::optional<seq_range> add(std::uint32_t s, std::uint32_t e) {
    std::size_t i = 0;
    while (i < n_ && seq_lt(r_[i].end, s)) ++i;  // first range that ends at or after s
    std::size_t j = i;
    while (j < n_ && seq_leq(r_[j].start, e)) ++j;  // ranges [i, j) touch [s, e)
    if (i == j) {
      if (n_ == N) return std::nullopt;
      for (std::size_t k = n_; k > i; --k) r_[k] = r_[k - 1];
      r_[i] = {s, e};
      ++n_;
      return r_[i];
    }
    seq_range m{seq_lt(r_[i].start, s) ? r_[i].start : s, seq_lt(e, r_[j - 1].end) ? r_[j - 1].end : e};
    r_[i] = m;
    std::size_t gone = j - i - 1;
    for (std::size_t k = i + 1; k + gone < n_; ++k) r_[k] = r_[k + gone];
    n_ -= gone;
    return m;
  }

  // True if [s, e) lies inside one range.
  bool covers(std::uint32_t s, std::uint32_t e) const {
    for (std::size_t i = 0; i < n_; ++i)
      if (r_[i].contains(s, e)) return true;
    return false;
  }

  void pop_front() {
    for (std::size_t k = 1; k < n_; ++k) r_[k - 1] = r_[k];
    --n_;
  }

 private:
  std::array<seq_range, N> r_{};
  std::size_t n_ = 0;
};

}  // namespace coronet::tcp
