// runtime/timer.hpp - sleeping coroutines.
//
//   bool slept = co_await rt::sleep_for(5ms);       // false: cancelled early
//   co_await rt::sleep_until(sched.now() + 1s);
//
// A sleep honours its task's stop token: when stop is requested it returns
// false at once (through scheduler::schedule, never inline). It returns true
// when the deadline passed. The timer lives inside the awaiter, so sleeping
// allocates nothing. Must be awaited on a thread whose scheduler is current.
#pragma once

#include <coroutine>
#include <optional>
#include <stop_token>

#include "proto/types.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer_queue.hpp"

namespace coronet::rt {

class [[nodiscard]] sleep_awaiter final : private timer_node {
 public:
  explicit sleep_awaiter(time_point deadline) noexcept : deadline_(deadline) {}
  // Movable until awaited (coroutine parameters are moved into the frame).
  sleep_awaiter(sleep_awaiter&& o) noexcept : timer_node(o), deadline_(o.deadline_) {}
  sleep_awaiter& operator=(sleep_awaiter&&) = delete;
  ~sleep_awaiter();

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    std::stop_token st;
    if constexpr (requires { h.promise().stop_token(); }) st = h.promise().stop_token();
    return suspend(h, std::move(st));
  }
  bool await_resume() noexcept;  // true: the deadline passed; false: stopped

 private:
  struct on_stop {
    sleep_awaiter* self;
    void operator()() const noexcept;
  };
  bool suspend(std::coroutine_handle<> h, std::stop_token st);
  void fire() override;

  time_point deadline_;
  scheduler* sched_ = nullptr;
  std::coroutine_handle<> waiter_;
  bool done_ = false, cancelled_ = false;
  std::optional<std::stop_callback<on_stop>> stop_cb_;
};

sleep_awaiter sleep_until(time_point deadline) noexcept;
sleep_awaiter sleep_for(duration d);  // from scheduler::current()->now()

}  // namespace coronet::rt
