// runtime/timer_queue.cpp - binary min-heap on (deadline, arming order).
#include "runtime/timer_queue.hpp"

namespace coronet::rt {

bool timer_queue::before(const timer_node* a, const timer_node* b) const noexcept {
  if (a->deadline_ != b->deadline_) return a->deadline_ < b->deadline_;
  return a->seq_ < b->seq_;
}

void timer_queue::place(std::size_t i, timer_node* n) noexcept {
  heap_[i] = n;
  n->index_ = i;
}

void timer_queue::sift_up(std::size_t i) noexcept {
  timer_node* n = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!before(n, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, n);
}

void timer_queue::sift_down(std::size_t i) noexcept {
  timer_node* n = heap_[i];
  const std::size_t size = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], n)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, n);
}

void timer_queue::push(timer_node& n, time_point deadline) {
  n.deadline_ = deadline;
  n.seq_ = seq_++;
  heap_.push_back(&n);
  sift_up(heap_.size() - 1);
}

void timer_queue::erase(timer_node& n) noexcept {
  if (!n.armed()) return;
  std::size_t i = n.index_;
  n.index_ = timer_node::npos;
  timer_node* last = heap_.back();
  heap_.pop_back();
  if (last == &n) return;
  place(i, last);
  // The moved node may belong above or below its new slot.
  if (i > 0 && before(last, heap_[(i - 1) / 2])) {
    sift_up(i);
  } else {
    sift_down(i);
  }
}

std::optional<time_point> timer_queue::next_deadline() const noexcept {
  if (heap_.empty()) return std::nullopt;
  return heap_.front()->deadline_;
}

timer_node* timer_queue::pop_due(time_point now) noexcept {
  if (heap_.empty() || heap_.front()->deadline_ > now) return nullptr;
  timer_node* n = heap_.front();
  erase(*n);
  return n;
}

}  // namespace coronet::rt
