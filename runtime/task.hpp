// runtime/task.hpp - task<T>: a lazy coroutine that starts when it is awaited
// and hands control back to its awaiter by symmetric transfer, so chains of
// any depth run in constant stack.
//
//   rt::task<int> answer() { co_return 42; }
//   rt::task<> caller() { int v = co_await answer(); ... }
//
// - Lazy: calling a task function allocates its frame and runs nothing.
// - Move-only; destroying an unstarted or finished task frees its frame.
// - An exception escaping the body is rethrown from `co_await` in the awaiter.
// - Each promise carries a std::stop_token. A task that is co_awaited inherits
//   the awaiting coroutine's token (unless one was set with with_stop_token);
//   a spawned task gets the token given to scheduler::spawn. Awaitables find
//   it through `h.promise().stop_token()` (see runtime/cancel.hpp).
// Single-threaded: a task is resumed on the thread of its scheduler.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <type_traits>
#include <utility>

// clang 14 cannot emit -fsanitize=function's prologue for coroutine templates
// ("Cannot represent a difference across sections"); mark them with this.
#if defined(__clang__)
#define CORONET_CORO_TEMPLATE [[clang::no_sanitize("function")]]
#else
#define CORONET_CORO_TEMPLATE
#endif

namespace coronet::rt {

template <class T = void>
class task;

namespace detail {

// Symmetric transfer only runs in constant stack when the compiler turns the
// resumption into a tail call. GCC does not at -O0/-O1 or under
// AddressSanitizer, so a long chain of synchronously completing awaits would
// overflow the stack there. The scheduler records the stack position from
// which it resumes coroutines; a transfer made deeper than stack_budget below
// it goes through the ready queue instead (defer_resume), which unwinds. With
// real tail calls the depth never grows and the guard never fires.
inline thread_local const char* stack_base = nullptr;
inline constexpr std::size_t stack_budget = 256 * 1024;
void defer_resume(std::coroutine_handle<> h);  // scheduler::current()->schedule(h)

inline std::coroutine_handle<> transfer_to(std::coroutine_handle<> next) {
  const char* base = stack_base;
  if (base != nullptr) {
    const char* here = static_cast<const char*>(__builtin_frame_address(0));
    if (base > here && static_cast<std::size_t>(base - here) > stack_budget) {
      defer_resume(next);
      return std::noop_coroutine();
    }
  }
  return next;
}

class promise_base {
 public:
  std::suspend_always initial_suspend() const noexcept { return {}; }

  // Final suspension resumes the awaiter (or nothing, for a task nobody awaits).
  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      return transfer_to(h.promise().continuation_);
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  // The token this task runs under; awaitables poll it or register a callback.
  std::stop_token stop_token() const noexcept { return stop_; }

  // --- used by task<T> and the scheduler ---
  std::coroutine_handle<> continuation_ = std::noop_coroutine();
  std::stop_token stop_;
  bool own_token_ = false;  // set by with_stop_token: not replaced on co_await
  std::exception_ptr exception_;
};

template <class T>
class value_promise : public promise_base {
 public:
  template <class U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.emplace(std::forward<U>(v));
  }
  T take() {
    if (exception_) std::rethrow_exception(exception_);
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class value_promise<void> : public promise_base {
 public:
  void return_void() noexcept {}
  void take() {
    if (exception_) std::rethrow_exception(exception_);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
  static_assert(!std::is_reference_v<T>, "task<T&> is not supported; return a pointer");

 public:
  using value_type = T;
  struct promise_type : detail::value_promise<T> {
    task get_return_object() noexcept { return task{std::coroutine_handle<promise_type>::from_promise(*this)}; }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  task() noexcept = default;  // an empty task; awaiting it throws std::logic_error
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  bool done() const noexcept { return h_ && h_.done(); }

  // Runs this task under `st` instead of inheriting the awaiter's token.
  task with_stop_token(std::stop_token st) && {
    if (h_) {
      h_.promise().stop_ = std::move(st);
      h_.promise().own_token_ = true;
    }
    return std::move(*this);
  }

  class awaiter {
   public:
    explicit awaiter(handle_type h) noexcept : h_(h) {}
    bool await_ready() const noexcept { return !h_ || h_.done(); }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
      auto& p = h_.promise();
      p.continuation_ = caller;
      if constexpr (requires { caller.promise().stop_token(); }) {
        if (!p.own_token_) p.stop_ = caller.promise().stop_token();
      }
      return detail::transfer_to(h_);  // symmetric transfer: start the child without growing the stack
    }
    T await_resume() {
      if (!h_) throw std::logic_error("co_await on an empty rt::task");
      return h_.promise().take();
    }

   private:
    handle_type h_;
  };
  awaiter operator co_await() && noexcept { return awaiter{h_}; }
  awaiter operator co_await() & noexcept { return awaiter{h_}; }

  // Hands the frame over (for the scheduler's spawn); the task becomes empty.
  handle_type release() noexcept { return std::exchange(h_, {}); }

 private:
  explicit task(handle_type h) noexcept : h_(h) {}
  handle_type h_;
};

// `std::stop_token st = co_await rt::this_stop_token();` - the token of the
// current task (an empty token in a coroutine type without one). Does not suspend.
class [[nodiscard]] this_stop_token_awaiter {
 public:
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    if constexpr (requires { h.promise().stop_token(); }) token_ = h.promise().stop_token();
    return false;  // resume at once
  }
  std::stop_token await_resume() noexcept { return std::move(token_); }

 private:
  std::stop_token token_;
};
inline this_stop_token_awaiter this_stop_token() noexcept { return {}; }

}  // namespace coronet::rt
