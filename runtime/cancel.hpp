// runtime/cancel.hpp - cancellation: stop tokens, timeouts.
//
// Every task runs under a std::stop_token (runtime/task.hpp). An awaitable
// that can be cancelled honours it like this:
//   1. In await_suspend(std::coroutine_handle<P> h), read the token with
//      `if constexpr (requires { h.promise().stop_token(); })`.
//   2. If stop is already requested, do not suspend: complete with a
//      "cancelled" result (sleep returns false, an I/O wait operation_aborted).
//   3. Otherwise register a std::stop_callback (stored in the awaiter) whose
//      callback withdraws the pending operation (unlink it from the timer heap
//      or wait list; for io_uring submit IORING_OP_ASYNC_CANCEL and let the
//      CQE finish the job) and queues the coroutine with
//      scheduler::schedule(h). Never resume it inline: the callback runs
//      inside request_stop(), often inside another coroutine.
//   4. Guard against completing twice (operation finished, then stop): the
//      first of the two wins, the other does nothing.
//   5. Destroy the stop_callback in await_resume or the awaiter's destructor.
// All of it happens on the scheduler's thread.
//
//   std::optional<int> v = co_await rt::with_timeout(compute(), 10ms);
//   bool finished       = co_await rt::with_timeout(rt::sleep_for(1s), 10ms);
#pragma once

#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "proto/types.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/task.hpp"
#include "runtime/timer_queue.hpp"

namespace coronet::rt {

namespace detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
    return std::forward<A>(a).operator co_await();
  } else {
    return std::forward<A>(a);
  }
}
template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

// with_timeout's result: bool for void awaitables, std::optional<R> otherwise.
template <class R>
struct timeout_result {
  using type = std::optional<R>;
};
template <>
struct timeout_result<void> {
  using type = bool;
};

template <class A>
CORONET_CORO_TEMPLATE task<await_result_t<A>> as_task(A a) {
  co_return co_await std::move(a);
}
template <class T>
task<T> as_task(task<T> t) {
  return t;
}

// Requests stop on a source when its deadline passes.
class deadline_stop final : private timer_node {
 public:
  deadline_stop(scheduler& s, std::stop_source& src, time_point deadline) : sched_(s), src_(src) {
    sched_.add_timer(*this, deadline);
  }
  deadline_stop(const deadline_stop&) = delete;
  ~deadline_stop() { sched_.cancel_timer(*this); }
  bool fired() const noexcept { return fired_; }

 private:
  void fire() override {
    fired_ = true;
    src_.request_stop();
  }
  scheduler& sched_;
  std::stop_source& src_;
  bool fired_ = false;
};

struct forward_stop {
  std::stop_source* target;
  void operator()() const noexcept { target->request_stop(); }
};

}  // namespace detail

// Runs `a` under a stop source linked to the caller's token. If `d` passes
// first, requests stop, waits for `a` to finish (a cancelled operation must
// still complete) and returns nullopt / false, discarding what `a` returned.
// Otherwise returns `a`'s value / true. Exceptions from `a` propagate.
template <class Awaitable>
CORONET_CORO_TEMPLATE task<typename detail::timeout_result<detail::await_result_t<Awaitable>>::type> with_timeout(
    Awaitable a, duration d) {
  using R = detail::await_result_t<Awaitable>;
  std::stop_token outer = co_await this_stop_token();
  std::stop_source inner;
  std::stop_callback link(outer, detail::forward_stop{&inner});
  scheduler* s = scheduler::current();
  if (s == nullptr) throw std::logic_error("rt::with_timeout needs a current scheduler");
  detail::deadline_stop timer(*s, inner, s->now() + d);
  auto body = detail::as_task(std::move(a)).with_stop_token(inner.get_token());
  if constexpr (std::is_void_v<R>) {
    co_await std::move(body);
    co_return !timer.fired();
  } else {
    R v = co_await std::move(body);
    if (timer.fired()) co_return std::nullopt;
    co_return std::optional<R>(std::move(v));
  }
}

}  // namespace coronet::rt
