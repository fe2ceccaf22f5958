// runtime/scheduler.cpp - the event loop and the detached frames of spawned tasks.
#include "runtime/scheduler.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <typeinfo>

#include "runtime/clock.hpp"

namespace coronet::rt {

namespace {
thread_local scheduler* tl_current = nullptr;

// Prints what escaped a spawned task; the caller terminates.
void report_escaped_exception() noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "coronet: spawned task threw %s: %s\n", typeid(e).name(), e.what());
  } catch (...) {
    std::fprintf(stderr, "coronet: spawned task threw a non-std exception\n");
  }
  std::fflush(stderr);
}
}  // namespace

// A detached coroutine that awaits one task and frees itself when done.
struct root_coro {
  using promise_type = scheduler::root_promise;
  std::coroutine_handle<promise_type> h;
};

struct scheduler::root_promise {
  scheduler* sched = nullptr;
  bool counted = false;
  std::stop_token stop_;
  root_promise* prev = nullptr;
  root_promise* next = nullptr;

  std::stop_token stop_token() const noexcept { return stop_; }
  root_coro get_return_object() noexcept { return {std::coroutine_handle<root_promise>::from_promise(*this)}; }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  std::suspend_never final_suspend() const noexcept { return {}; }  // the frame frees itself
  void return_void() const noexcept {}
  // Documented policy: an exception escaping a spawned task ends the program.
  [[noreturn]] void unhandled_exception() const noexcept {
    report_escaped_exception();
    std::terminate();
  }
  ~root_promise() {
    if (sched == nullptr) return;
    if (prev != nullptr) prev->next = next;
    else sched->roots_ = next;
    if (next != nullptr) next->prev = prev;
    if (counted) --sched->live_;
  }
};

namespace {
root_coro run_root(task<void> t) { co_await std::move(t); }
}  // namespace

scheduler::scheduler(options o) : opts_(o), ring_(o.ring_entries, o.busy_poll) {
  ready_.reserve(256);
  running_.reserve(256);
  previous_current_ = tl_current;
  tl_current = this;
}

scheduler::~scheduler() {
  // Frames still suspended are destroyed; their awaiters unlink their timers
  // and stop callbacks as they go.
  while (roots_ != nullptr) std::coroutine_handle<root_promise>::from_promise(*roots_).destroy();
  if (tl_current == this) tl_current = previous_current_;
}

scheduler* scheduler::current() noexcept { return tl_current; }

// The loop's time, read once per iteration (see scheduler.hpp).
time_point scheduler::now() const noexcept { return in_loop_ ? now_ : steady_now(); }

void scheduler::start(task<void> t, std::stop_token st, bool counted) {
  if (!t.valid()) throw std::invalid_argument("scheduler::spawn: empty task");
  root_coro r = run_root(std::move(t));
  root_promise& p = r.h.promise();
  p.sched = this;
  p.counted = counted;
  p.stop_ = std::move(st);
  p.next = roots_;
  if (roots_ != nullptr) roots_->prev = &p;
  roots_ = &p;
  if (counted) ++live_;
  schedule(r.h);
}

void scheduler::spawn(task<void> t, std::stop_token st) { start(std::move(t), std::move(st), true); }

void scheduler::schedule(std::coroutine_handle<> h) { ready_.push_back(h); }

void detail::defer_resume(std::coroutine_handle<> h) { tl_current->schedule(h); }

void yield_awaiter::await_suspend(std::coroutine_handle<> h) const {
  scheduler* s = scheduler::current();
  if (s == nullptr) throw std::logic_error("rt::yield without a current scheduler");
  s->schedule(h);
}

void scheduler::add_poller(poller* p) {
  if (std::find(pollers_.begin(), pollers_.end(), p) == pollers_.end()) pollers_.push_back(p);
}

void scheduler::remove_poller(poller* p) noexcept {
  // Leave a hole rather than shift: remove_poller may run inside poll().
  std::replace(pollers_.begin(), pollers_.end(), p, static_cast<poller*>(nullptr));
}

void scheduler::fire_timers(time_point now) {
  while (timer_node* n = timers_.pop_due(now)) n->fire();
}

std::optional<time_point> scheduler::earliest_deadline() const {
  std::optional<time_point> d = timers_.next_deadline();
  for (poller* p : pollers_) {
    if (p == nullptr) continue;
    if (auto pd = p->next_deadline(); pd && (!d || *pd < *d)) d = pd;
  }
  return d;
}

void scheduler::run_ready() {
  running_.swap(ready_);
  for (std::coroutine_handle<> h : running_) h.resume();
  running_.clear();
  for (std::size_t i = 0; i < pollers_.size(); ++i) {
    if (poller* p = pollers_[i]) p->after_tasks();
  }
}

// One iteration: ready coroutines, completions, timers, pollers, and the
// coroutines those made ready.
void scheduler::step() {
  detail::stack_base = static_cast<const char*>(__builtin_frame_address(0));
  if (!ready_.empty()) run_ready();

  ring_.submit();
  ring_.reap();

  const time_point t = now_ = steady_now();
  fire_timers(t);
  for (std::size_t i = 0; i < pollers_.size(); ++i) {
    if (poller* p = pollers_[i]) p->poll(t);
  }
  std::erase(pollers_, nullptr);
  if (!ready_.empty()) run_ready();
}

// Sleeping mode only: wait in io_uring_enter for a completion or the earliest
// deadline; the deadline becomes the wait's timeout (no timeout SQE needed).
void scheduler::sleep() {
  if (!ready_.empty() || opts_.busy_poll) return;
  std::optional<time_point> deadline = earliest_deadline();
  if (!deadline) {
    ring_.wait(std::nullopt);
  } else if (time_point t = steady_now(); *deadline > t) {
    ring_.wait(*deadline - t);
  }
  now_ = steady_now();  // what woke us is handled at this time
}

void scheduler::loop(const bool* done) {
  if (in_loop_) throw std::logic_error("scheduler: run/block_on called from inside the loop");
  in_loop_ = true;
  now_ = steady_now();
  scheduler* saved = tl_current;
  tl_current = this;
  struct restore {
    scheduler* s;
    scheduler* saved;
    ~restore() {
      detail::stack_base = nullptr;
      s->in_loop_ = false;
      tl_current = saved;
    }
  } guard{this, saved};

  auto finished = [&] { return done != nullptr ? *done : (stop_requested_ || live_ == 0); };
  for (;;) {
    step();
    if (finished()) break;  // never sleep after the last task finished
    sleep();
  }
  if (done == nullptr) stop_requested_ = false;
}

void scheduler::run() { loop(nullptr); }

}  // namespace coronet::rt
