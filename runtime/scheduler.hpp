// runtime/scheduler.hpp - the single-threaded event loop: ready coroutines,
// io_uring completions, timers and pollers.
//
//   rt::scheduler s({.busy_poll = true});
//   s.spawn(serve(...));         // detached; runs when the loop runs
//   int v = s.block_on(work());  // runs the loop until work() finishes
//   s.run();                     // until stop() or no spawned task remains
//
// One loop iteration: resume ready coroutines; reap io_uring completions;
// fire due timers; call every poller's poll(now); resume the coroutines
// those steps made ready (a received segment reaches its reader in the same
// iteration). After each batch of resumptions every poller's after_tasks()
// runs. Then, when nothing is ready:
// sleeping mode waits in io_uring_enter until the next completion or the
// earliest deadline among timers and pollers' next_deadline(); busy-poll mode
// never blocks and starts the next iteration at once.
//
// A spawned task that throws is a bug in the program: the exception is
// printed to stderr and std::terminate is called.
// One scheduler per thread; none of this is thread-safe (stop sources that
// cancel tasks must be triggered on the scheduler's thread as well).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <stop_token>
#include <vector>

#include "proto/types.hpp"
#include "runtime/task.hpp"
#include "runtime/timer_queue.hpp"
#include "runtime/uring.hpp"

namespace coronet::rt {

struct options {
  bool busy_poll = false;
  unsigned ring_entries = 1024;
};

// Something the loop drives without io_uring: the protocol engine, a device
// that is polled. poll() is called once per loop iteration; next_deadline()
// bounds how long a sleeping loop may wait (nullopt: no deadline of its own;
// a time <= now: call me again without sleeping).
class poller {
 public:
  virtual void poll(time_point now) = 0;
  virtual std::optional<time_point> next_deadline() const = 0;
  // Called each time the loop has resumed a batch of ready coroutines: a
  // chance to submit at once what they queued (the stack flushes the frames
  // their writes built) instead of after the rest of the iteration.
  virtual void after_tasks() {}

 protected:
  ~poller() = default;
};

class scheduler {
 public:
  explicit scheduler(options o = {});
  ~scheduler();  // destroys tasks still suspended
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // The scheduler whose loop is running on this thread, else the most
  // recently constructed live one on this thread, else nullptr.
  static scheduler* current() noexcept;

  uring& ring() noexcept { return ring_; }
  // The loop's time: inside the loop, the steady clock as read once per
  // iteration (after completions are reaped) and after each sleep, like
  // libuv's uv_now(); everything one iteration does sees the same time, and
  // a busy loop reads the clock once per turn instead of once per frame and
  // call. Outside the loop, a fresh read. rt::steady_now() always reads.
  time_point now() const noexcept;
  bool busy_poll() const noexcept { return opts_.busy_poll; }

  // Starts `t` detached under `st`; it first runs on the next loop iteration.
  void spawn(task<void> t, std::stop_token st = {});
  // Runs the loop until `t` finishes; returns its value or rethrows. Ignores
  // stop(). Must not be called from inside the loop.
  template <class T>
  T block_on(task<T> t);
  // Runs the loop until stop() or until no spawned task remains.
  void run();
  // Makes run() return after the current iteration.
  void stop() noexcept { stop_requested_ = true; }

  void add_poller(poller* p);
  void remove_poller(poller* p) noexcept;  // safe from inside poll()

  // Queues `h` to be resumed by the loop (never inline).
  void schedule(std::coroutine_handle<> h);

  // Timers, for awaitables (see runtime/timer.hpp).
  void add_timer(timer_node& n, time_point deadline) { timers_.push(n, deadline); }
  void cancel_timer(timer_node& n) noexcept { timers_.erase(n); }

  std::size_t live_tasks() const noexcept { return live_; }

  struct root_promise;  // the detached frame around each spawned task

 private:
  void start(task<void> t, std::stop_token st, bool counted);
  void loop(const bool* done);  // done == nullptr: run() rules
  void step();
  void run_ready();  // resumes the ready batch, then pollers' after_tasks()
  void sleep();
  void fire_timers(time_point now);
  std::optional<time_point> earliest_deadline() const;

  options opts_;
  uring ring_;
  std::vector<std::coroutine_handle<>> ready_, running_;
  timer_queue timers_;
  std::vector<poller*> pollers_;
  root_promise* roots_ = nullptr;  // intrusive list of live spawned frames
  std::size_t live_ = 0;
  bool stop_requested_ = false;
  bool in_loop_ = false;
  time_point now_{};  // now() inside the loop
  scheduler* previous_current_ = nullptr;

  friend struct root_promise;
};

// `co_await rt::yield();` lets every other ready coroutine run first.
class [[nodiscard]] yield_awaiter {
 public:
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const;
  void await_resume() const noexcept {}
};
inline yield_awaiter yield() noexcept { return {}; }

namespace detail {
template <class T>
struct block_result {
  std::optional<T> value;
  T take() { return std::move(*value); }
};
template <>
struct block_result<void> {
  void take() {}
};

template <class T>
CORONET_CORO_TEMPLATE task<void> capture(task<T> t, block_result<T>& out, std::exception_ptr& error, bool& done) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
    } else {
      out.value.emplace(co_await std::move(t));
    }
  } catch (...) {
    error = std::current_exception();
  }
  done = true;
}
}  // namespace detail

template <class T>
T scheduler::block_on(task<T> t) {
  detail::block_result<T> out;
  std::exception_ptr error;
  bool done = false;
  start(detail::capture(std::move(t), out, error, done), {}, false);
  loop(&done);
  if (error) std::rethrow_exception(error);
  return out.take();
}

}  // namespace coronet::rt
