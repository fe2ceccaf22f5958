// io/memory_device.cpp - back-to-back in-process devices over fixed frame rings.
#include "io/memory_device.hpp"

#include <stdexcept>

namespace coronet::io {

memory_device::memory_device(std::string name, mac_addr mac, std::uint16_t mtu, std::size_t queue_frames)
    : name_(std::move(name)),
      mac_(mac),
      mtu_(mtu),
      stride_(std::size_t{mtu} + 14),
      storage_(queue_frames * stride_),
      lengths_(queue_frames) {
  if (queue_frames == 0) throw std::invalid_argument("memory_device: queue_frames must be > 0");
}

// The TX buffer is the next free slot of the peer's inbound ring, so a frame
// is written once and read in place.
mut_bytes memory_device::tx_buffer() {
  if (peer_ == nullptr) throw std::logic_error("memory_device: not connected");
  memory_device& p = *peer_;
  if (p.count_ == p.lengths_.size()) {
    ++stats_.tx_ring_full;
    return {};
  }
  p.reserved_ = true;
  return {p.slot((p.head_ + p.count_) % p.lengths_.size()), stride_};
}

void memory_device::tx_commit(std::size_t len) {
  memory_device& p = *peer_;
  if (!p.reserved_) throw std::logic_error("memory_device: tx_commit without tx_buffer");
  if (len > stride_ || len > p.stride_) throw std::length_error("memory_device: frame longer than the buffer");
  p.reserved_ = false;
  p.lengths_[(p.head_ + p.count_) % p.lengths_.size()] = static_cast<std::uint32_t>(len);
  ++p.count_;
  ++stats_.tx_frames;
  stats_.tx_bytes += len;
}

void memory_device::flush() {
  if (peer_ != nullptr) peer_->visible_ = peer_->count_;
}

void memory_device::poll() {
  if (sink_ == nullptr) return;
  // Deliver only what was visible on entry; frames the sink's reaction makes
  // visible (a reply looped back) wait for the next poll.
  std::size_t n = visible_;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t len = lengths_[head_];
    bytes frame{slot(head_), len};
    ++stats_.rx_frames;
    stats_.rx_bytes += len;
    sink_->on_frame(frame, rx_meta{});
    head_ = (head_ + 1) % lengths_.size();
    --count_;
    --visible_;
  }
}

namespace {
mac_addr local_mac(std::uint8_t last) { return mac_addr{{0x02, 0x00, 0x00, 0x00, 0x00, last}}; }
}  // namespace

memory_device_pair::memory_device_pair(const memory_device_config& c)
    : a("memory:a", c.mac_a.value_or(local_mac(0x0a)), c.mtu, c.queue_frames),
      b("memory:b", c.mac_b.value_or(local_mac(0x0b)), c.mtu, c.queue_frames) {
  a.connect(b);
  b.connect(a);
}

}  // namespace coronet::io
