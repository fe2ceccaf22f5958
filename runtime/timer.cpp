// runtime/timer.cpp - sleep awaiters.
#include "runtime/timer.hpp"

#include <stdexcept>

namespace coronet::rt {

sleep_awaiter::~sleep_awaiter() {
  if (armed() && sched_ != nullptr) sched_->cancel_timer(*this);
}

bool sleep_awaiter::suspend(std::coroutine_handle<> h, std::stop_token st) {
  if (st.stop_requested()) {
    cancelled_ = true;
    return false;
  }
  sched_ = scheduler::current();
  if (sched_ == nullptr) throw std::logic_error("rt::sleep awaited without a current scheduler");
  waiter_ = h;
  sched_->add_timer(*this, deadline_);
  // A stop request withdraws the timer and queues the coroutine (see cancel.hpp).
  if (st.stop_possible()) stop_cb_.emplace(std::move(st), on_stop{this});
  return true;
}

void sleep_awaiter::on_stop::operator()() const noexcept {
  if (self->done_) return;
  self->done_ = true;
  self->cancelled_ = true;
  self->sched_->cancel_timer(*self);
  self->sched_->schedule(self->waiter_);
}

void sleep_awaiter::fire() {
  if (done_) return;
  done_ = true;
  sched_->schedule(waiter_);
}

bool sleep_awaiter::await_resume() noexcept {
  stop_cb_.reset();
  return !cancelled_;
}

sleep_awaiter sleep_until(time_point deadline) noexcept { return sleep_awaiter{deadline}; }

sleep_awaiter sleep_for(duration d) {
  scheduler* s = scheduler::current();
  if (s == nullptr) throw std::logic_error("rt::sleep_for without a current scheduler");
  return sleep_awaiter{s->now() + d};
}

}  // namespace coronet::rt
