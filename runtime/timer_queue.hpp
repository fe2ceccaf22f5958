// runtime/timer_queue.hpp - the scheduler's timers: an intrusive binary heap.
// A timer_node lives inside its owner (usually an awaiter in a coroutine
// frame); the heap holds pointers and each node knows its slot, so arming and
// cancelling allocate nothing once the heap's vector has grown. Timers with
// equal deadlines fire in the order they were armed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "proto/types.hpp"

namespace coronet::rt {

class timer_node {
 public:
  time_point deadline() const noexcept { return deadline_; }
  bool armed() const noexcept { return index_ != npos; }

  // Called by the scheduler when the deadline has passed; the node is already
  // out of the queue. Must not resume coroutines inline: schedule them.
  virtual void fire() = 0;

 protected:
  timer_node() = default;
  timer_node(const timer_node&) noexcept {}  // a copy is never armed
  timer_node& operator=(const timer_node&) = delete;
  ~timer_node() = default;

 private:
  friend class timer_queue;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  time_point deadline_{};
  std::uint64_t seq_ = 0;
  std::size_t index_ = npos;
};

class timer_queue {
 public:
  void push(timer_node& n, time_point deadline);  // n must not be armed
  void erase(timer_node& n) noexcept;             // no-op when not armed
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  std::optional<time_point> next_deadline() const noexcept;
  // Removes and returns the earliest node if its deadline is <= now.
  timer_node* pop_due(time_point now) noexcept;

 private:
  bool before(const timer_node* a, const timer_node* b) const noexcept;
  void place(std::size_t i, timer_node* n) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  std::vector<timer_node*> heap_;
  std::uint64_t seq_ = 0;
};

}  // namespace coronet::rt
