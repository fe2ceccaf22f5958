// net/op.hpp - the record behind every pending net/ operation (connect,
// accept, read, write). It lives inside the awaiter, so waiting allocates
// nothing; the stack links it to the connection or listener it waits on and,
// when the engine reports progress, completes it and queues the coroutine
// through scheduler::schedule (never inline).
// Cancellation follows runtime/cancel.hpp: the awaiting task's stop token gets
// a stop_callback that withdraws the operation and completes it with
// errc::operation_canceled. Whichever comes first, completion or stop, wins.
// Internal to net/; users see the awaitables in stack.hpp, listener.hpp and
// stream.hpp.
#pragma once

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <system_error>
#include <utility>

#include "proto/engine.hpp"
#include "proto/types.hpp"

namespace coronet::net {

class stack;

namespace detail {

struct op {
  enum class kind : std::uint8_t { connect, accept, read, write };

  op(stack* s, kind k) noexcept : st(s), what(k) {}  // s == nullptr: a closed handle
  // Awaitables are movable until awaited (rt::with_timeout moves them into a
  // task frame); a linked op never moves.
  op(op&& o) noexcept
      : st(o.st), what(o.what), conn(o.conn), lst(o.lst), remote(o.remote), rbuf(o.rbuf), wbuf(o.wbuf),
        done(o.done), owns_conn(std::exchange(o.owns_conn, false)), ec(o.ec) {}
  op& operator=(op&&) = delete;
  ~op();  // withdraws a pending op; aborts a connection nobody took

  // await_suspend's body: reads the task's stop token, then links.
  template <class P>
  bool suspend(std::coroutine_handle<P> h) {
    std::stop_token tok;
    if constexpr (requires(P& p) {
                    { p.stop_token() } -> std::convertible_to<std::stop_token>;
                  })
      tok = h.promise().stop_token();
    return suspend_with(h, std::move(tok));
  }
  // False: finished without suspending (stopped already, or failed at once).
  bool suspend_with(std::coroutine_handle<> h, std::stop_token tok);
  // await_resume's first step: drops the stop callback.
  void resumed() noexcept { stop_cb.reset(); }
  // Hands the connection over (to a stream); the op no longer aborts it.
  conn_id take_conn() noexcept {
    owns_conn = false;
    return conn;
  }

  stack* st;             // nullptr: the handle was closed; completes with bad_file_descriptor
  kind what;
  conn_id conn = 0;       // connect/read/write: the connection; accept: the one popped
  listener_id lst = 0;    // accept
  endpoint remote{};      // connect
  mut_bytes rbuf{};       // read: where to put the bytes
  bytes wbuf{};           // write: what is still to be queued
  std::size_t done = 0;   // bytes read or queued so far
  bool owns_conn = false; // connect/accept: a connection to abort if never taken
  std::error_code ec{};   // the outcome; empty means success
  std::coroutine_handle<> waiter{};
  bool linked = false;    // waiting on the stack

  struct on_stop {
    op* self;
    void operator()() const noexcept;
  };
  std::optional<std::stop_callback<on_stop>> stop_cb;
};

}  // namespace detail
}  // namespace coronet::net
