// net/listener.hpp - a listening port. accept() resumes with a stream once a
// connection has completed its handshake (the engine's accept queue, Linux's
// inet_csk_accept()); SYNs are answered without the application running.
//
//   net::listener l = st.listen(7).value();
//   for (;;) {
//     net::result<net::stream> s = co_await l.accept();
//     if (!s) break;                       // operation_canceled after close()
//     sched.spawn(echo(std::move(*s)));
//   }
#pragma once

#include <coroutine>
#include <cstdint>

#include "net/error.hpp"
#include "net/op.hpp"
#include "proto/engine.hpp"

namespace coronet::net {

class stack;
class stream;
class listener;

// Resolves to the next established connection, or operation_canceled (stop
// token, or the listener closed), or bad_file_descriptor (closed already).
class [[nodiscard]] accept_awaitable {
 public:
  bool await_ready();
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return op_.suspend(h);
  }
  result<stream> await_resume();

 private:
  friend class listener;
  accept_awaitable(stack* s, listener_id l) : op_(s, detail::op::kind::accept) { op_.lst = l; }
  detail::op op_;
};

class listener {
 public:
  listener() = default;  // not listening
  listener(listener&& o) noexcept;
  listener& operator=(listener&& o) noexcept;
  ~listener() { close(); }

  [[nodiscard]] accept_awaitable accept() { return accept_awaitable(st_, id_); }
  endpoint local() const { return local_; }
  bool is_open() const noexcept { return st_ != nullptr; }
  // Stops listening: pending accepts resume with operation_canceled, and
  // connections not yet accepted are reset (Linux inet_csk_listen_stop()).
  void close() noexcept;

 private:
  friend class stack;
  listener(stack& s, listener_id id, endpoint local) : st_(&s), id_(id), local_(local) {}
  stack* st_ = nullptr;
  listener_id id_ = 0;
  endpoint local_{};
};

}  // namespace coronet::net
