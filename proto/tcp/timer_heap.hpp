// proto/tcp/timer_heap.hpp - one min-heap of deadlines for every connection and
// request entry, with lazy invalidation: an object keeps its own deadline and
// the earliest time it has in the heap (`armed`); moving a deadline later
// pushes nothing, and an entry that pops early is re-pushed at the object's
// real deadline. Entries of freed objects are skipped when they pop. So
// next_deadline() is the heap top (possibly early, never late) and steady
// traffic adds about one entry per object.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "proto/tcp/four_tuple.hpp"
#include "proto/types.hpp"

namespace coronet::tcp {

inline constexpr time_point no_deadline = time_point::max();

struct timer_entry {
  time_point when;
  std::uint64_t conn = 0;  // a connection's id, or 0 for a request entry
  four_tuple req;          // the request entry's key when conn == 0
};

// The per-object half of the scheme.
struct timer_slot {
  time_point deadline = no_deadline;
  time_point armed = no_deadline;
};

class timer_heap {
 public:
  explicit timer_heap(std::size_t reserve = 1024) { v_.reserve(reserve); }

  // Sets `slot`'s deadline to `t`; pushes only if `t` is earlier than what the
  // heap already holds for it.
  void set(timer_slot& slot, time_point t, std::uint64_t conn, const four_tuple& req = {}) {
    slot.deadline = t;
    if (t < slot.armed) {
      slot.armed = t;
      v_.push_back({t, conn, req});
      std::push_heap(v_.begin(), v_.end(), later);
    }
  }
  bool empty() const { return v_.empty(); }
  const timer_entry& top() const { return v_.front(); }
  timer_entry pop() {
    std::pop_heap(v_.begin(), v_.end(), later);
    timer_entry e = v_.back();
    v_.pop_back();
    return e;
  }
  std::size_t size() const { return v_.size(); }

 private:
  static bool later(const timer_entry& a, const timer_entry& b) { return a.when > b.when; }
  std::vector<timer_entry> v_;
};

}  // namespace coronet::tcp
