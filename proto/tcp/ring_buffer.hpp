// proto/tcp/ring_buffer.hpp - a byte ring allocated once per connection (and
// again only when the send buffer autotunes upwards): the send buffer (bytes
// from SND.UNA on) and the receive buffer (bytes the application has not read
// yet, followed by out-of-order bytes placed where they belong).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "proto/types.hpp"

namespace coronet::tcp {

class ring_buffer {
 public:
  ring_buffer() = default;
  explicit ring_buffer(std::size_t capacity);

  std::size_t capacity() const { return cap_; }
  std::size_t size() const { return len_; }
  std::size_t free() const { return cap_ - len_; }
  bool empty() const { return len_ == 0; }

  // Appends as much of `data` as fits; returns the count.
  std::size_t write(bytes data);
  // Places `data` `offset` bytes past the end of the readable bytes without
  // making it readable (out-of-order data waiting for the hole before it);
  // requires size() + offset + data.size() <= capacity().
  void write_at(std::size_t offset, bytes data);
  // Makes n bytes past the end readable: bytes placed by write_at() (n <= free()).
  void commit(std::size_t n);
  // Reallocates to a larger capacity, keeping the bytes (send buffer
  // autotuning, Linux tcp_sndbuf_expand). No-op when not larger.
  void grow(std::size_t capacity);
  // Copies up to out.size() bytes from the front and removes them.
  std::size_t read(mut_bytes out);
  // Removes n bytes from the front (n <= size()).
  void consume(std::size_t n);
  // Moves the front back to the start of the storage when the buffer is
  // empty, so a request/response connection keeps writing and reading the
  // same few cache lines instead of walking the whole ring (128 KiB of
  // receive buffer by default). Only when nothing was placed by write_at():
  // those bytes sit at fixed offsets from the front.
  void restart_if_empty() {
    if (len_ == 0) head_ = 0;
  }
  // The bytes [offset, offset + n) counted from the front, as at most two
  // spans (the second is empty unless the range wraps).
  std::pair<bytes, bytes> peek(std::size_t offset, std::size_t n) const;
  // Frees the storage of a buffer nobody will read or write again (a closed
  // connection in TIME-WAIT), keeping capacity(), size() and free() so the
  // window it advertises does not change (Linux keeps tw_rcv_wnd in its small
  // tcp_timewait_sock for the same reason). write/read/peek must not follow.
  void drop_storage() { buf_.reset(); }
  bool has_storage() const { return buf_ != nullptr || cap_ == 0; }

 private:
  std::unique_ptr<std::uint8_t[]> buf_;
  std::size_t cap_ = 0, head_ = 0, len_ = 0;
};

}  // namespace coronet::tcp
