#include "proto/tcp/ring_buffer.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace coronet::tcp {

namespace {
// pos modulo cap for pos < 2 * cap: every position here is the head (< cap)
// plus at most cap. A compare instead of a division, which costs tens of
// cycles and sits on every read, write and ACK.
std::size_t wrap(std::size_t pos, std::size_t cap) { return pos >= cap ? pos - cap : pos; }
}  // namespace

// Not zero-filled: bytes are only read after they were written, and zeroing
// 128 KiB per connection (fresh pages from mmap) cost ~100 us per handshake.
ring_buffer::ring_buffer(std::size_t capacity)
    : buf_(capacity ? std::make_unique_for_overwrite<std::uint8_t[]>(capacity) : nullptr), cap_(capacity) {}

std::size_t ring_buffer::write(bytes data) {
  assert(data.empty() || has_storage());
  std::size_t n = std::min(data.size(), free());
  std::size_t tail = wrap(head_ + len_, cap_);
  std::size_t first = std::min(n, cap_ - tail);
  if (first) std::memcpy(buf_.get() + tail, data.data(), first);
  if (n > first) std::memcpy(buf_.get(), data.data() + first, n - first);
  len_ += n;
  return n;
}

void ring_buffer::write_at(std::size_t offset, bytes data) {
  assert(len_ + offset + data.size() <= cap_ && has_storage());
  if (data.empty()) return;
  std::size_t pos = wrap(head_ + len_ + offset, cap_);
  std::size_t first = std::min(data.size(), cap_ - pos);
  std::memcpy(buf_.get() + pos, data.data(), first);
  if (data.size() > first) std::memcpy(buf_.get(), data.data() + first, data.size() - first);
}

void ring_buffer::commit(std::size_t n) {
  assert(len_ + n <= cap_);
  len_ += n;
}

void ring_buffer::grow(std::size_t capacity) {
  if (capacity <= cap_) return;
  auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
  auto [a, b] = peek(0, len_);
  if (!a.empty()) std::memcpy(bigger.get(), a.data(), a.size());
  if (!b.empty()) std::memcpy(bigger.get() + a.size(), b.data(), b.size());
  buf_ = std::move(bigger);
  cap_ = capacity;
  head_ = 0;
}

std::size_t ring_buffer::read(mut_bytes out) {
  std::size_t n = std::min(out.size(), len_);
  auto [a, b] = peek(0, n);
  if (!a.empty()) std::memcpy(out.data(), a.data(), a.size());
  if (!b.empty()) std::memcpy(out.data() + a.size(), b.data(), b.size());
  consume(n);
  return n;
}

void ring_buffer::consume(std::size_t n) {
  assert(n <= len_);
  len_ -= n;
  // The head moves on even when the buffer empties: out-of-order bytes placed
  // by write_at() sit at fixed offsets from it.
  head_ = wrap(head_ + n, cap_);
}

std::pair<bytes, bytes> ring_buffer::peek(std::size_t offset, std::size_t n) const {
  assert(offset + n <= len_);
  if (n == 0) return {};
  std::size_t start = wrap(head_ + offset, cap_);
  std::size_t first = std::min(n, cap_ - start);
  bytes a{buf_.get() + start, first};
  bytes b = n > first ? bytes{buf_.get(), n - first} : bytes{};
  return {a, b};
}

}  // namespace coronet::tcp
