// net/stream.hpp - one TCP connection, from connect() or accept().
//
//   std::array<std::uint8_t, 4096> buf;
//   for (;;) {
//     net::result<std::size_t> n = co_await s.read(buf);
//     if (!n || *n == 0) break;                        // error, or the peer's FIN
//     net::result<std::size_t> w = co_await s.write({buf.data(), *n});  // once all is queued
//     if (!w) break;
//   }
//   s.close();
//
// read() resumes when at least one byte (or the end of the stream, 0) is
// there; write() resumes when every byte is in the send buffer, waiting for
// the peer's ACKs to make room (back-pressure). One read and one write may be
// pending at a time. Both honour the awaiting task's stop token
// (operation_canceled; a cancelled write may have queued part of the data).
// Move-only; the destructor closes gracefully.
#pragma once

#include <coroutine>
#include <cstddef>
#include <string_view>

#include "net/error.hpp"
#include "net/op.hpp"
#include "proto/engine.hpp"

namespace coronet::net {

class stack;
class accept_awaitable;
class connect_awaitable;

// Bytes read, 0 at the end of the stream, or an error.
class [[nodiscard]] read_awaitable {
 public:
  bool await_ready();
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return op_.suspend(h);
  }
  result<std::size_t> await_resume();

 private:
  friend class stream;
  read_awaitable(stack* s, conn_id c, mut_bytes buf) : op_(s, detail::op::kind::read) {
    op_.conn = c;
    op_.rbuf = buf;
  }
  detail::op op_;
};

// All of the bytes once they are queued, or an error (connection_reset,
// broken_pipe after shutdown or close by the peer's RST, operation_canceled).
class [[nodiscard]] write_awaitable {
 public:
  bool await_ready();
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return op_.suspend(h);
  }
  result<std::size_t> await_resume();

 private:
  friend class stream;
  write_awaitable(stack* s, conn_id c, bytes data) : op_(s, detail::op::kind::write) {
    op_.conn = c;
    op_.wbuf = data;
  }
  detail::op op_;
};

class stream {
 public:
  stream() = default;  // not connected
  stream(stream&& o) noexcept;
  stream& operator=(stream&& o) noexcept;
  ~stream() { close(); }

  [[nodiscard]] read_awaitable read(mut_bytes buf) { return read_awaitable(st_, id_, buf); }
  [[nodiscard]] write_awaitable write(bytes data) { return write_awaitable(st_, id_, data); }
  [[nodiscard]] write_awaitable write(std::string_view text) {
    return write({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }

  void shutdown();         // FIN after the queued data; reading goes on
  void close() noexcept;   // graceful (FIN), releases the connection; pending ops cancel
  void abort() noexcept;   // RST now, releases the connection

  bool is_open() const noexcept { return st_ != nullptr; }
  endpoint local() const { return local_; }
  endpoint remote() const { return remote_; }
  // State, options, windows, RTT and counters (what `ss -ti` shows); state
  // closed once it is gone. net/conn_report.hpp prints it.
  conn_info info() const;
  // Nagle's algorithm off (the default, as TCP_NODELAY) or on (RFC 9293 3.7.4).
  void set_nodelay(bool on);
  // SO_KEEPALIVE: probes after net.ipv4.tcp_keepalive_time idle; a dead peer
  // fails pending and later reads/writes with timed_out.
  void set_keepalive(bool on);
  conn_id id() const noexcept { return id_; }

 private:
  friend class stack;
  friend class accept_awaitable;
  friend class connect_awaitable;
  stream(stack& s, conn_id id);
  void release(bool abort) noexcept;
  stack* st_ = nullptr;
  conn_id id_ = 0;
  endpoint local_{}, remote_{};
};

}  // namespace coronet::net
