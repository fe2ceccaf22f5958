// io/memory_device.hpp - two in-process devices joined back to back, so two
// stacks run in one process on one scheduler without root or interfaces.
//
//   io::memory_device_pair link;          // link.a <-> link.b
//   link.a.tx_buffer() ... a.tx_commit(n); a.flush();
//   link.b.poll();                        // b's sink receives the frame
//
// Frames committed on one side become visible to the other at flush(); the
// receiver hands them to its sink in its own poll(). Each direction is a
// fixed ring of frame slots (no per-frame allocation); when it is full,
// tx_buffer() returns empty and tx_ring_full is counted.
// (Loss, delay and reordering belong to io/memory_link.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/device.hpp"

namespace coronet::io {

struct memory_device_config {
  std::uint16_t mtu = 1500;
  std::size_t queue_frames = 256;  // per direction
  std::optional<mac_addr> mac_a = std::nullopt;  // default 02:00:00:00:00:0a
  std::optional<mac_addr> mac_b = std::nullopt;  // default 02:00:00:00:00:0b
};

class memory_device final : public device {
 public:
  memory_device(std::string name, mac_addr mac, std::uint16_t mtu, std::size_t queue_frames);
  memory_device(const memory_device&) = delete;
  memory_device& operator=(const memory_device&) = delete;

  void connect(memory_device& peer) noexcept { peer_ = &peer; }

  void start(rx_sink& sink) override { sink_ = &sink; }
  mut_bytes tx_buffer() override;
  void tx_commit(std::size_t len) override;
  void flush() override;
  void poll() override;  // delivers every visible frame to the sink
  bool rx_ready() const override { return visible_ > 0 && sink_ != nullptr; }

  mac_addr mac() const override { return mac_; }
  std::uint16_t mtu() const override { return mtu_; }
  const device_stats& stats() const override { return stats_; }
  std::string name() const override { return name_; }

  std::size_t rx_queued() const noexcept { return count_; }  // committed by the peer, not yet delivered

 private:
  std::uint8_t* slot(std::size_t i) noexcept { return storage_.data() + i * stride_; }

  std::string name_;
  mac_addr mac_;
  std::uint16_t mtu_;
  std::size_t stride_;
  device_stats stats_{};
  rx_sink* sink_ = nullptr;
  memory_device* peer_ = nullptr;

  // This device's inbound ring, written by the peer.
  std::vector<std::uint8_t> storage_;
  std::vector<std::uint32_t> lengths_;
  std::size_t head_ = 0;     // oldest frame
  std::size_t count_ = 0;    // committed frames
  std::size_t visible_ = 0;  // of which flushed
  bool reserved_ = false;    // the peer holds tx_buffer() of slot head_+count_
};

struct memory_device_pair {
  explicit memory_device_pair(const memory_device_config& c = {});
  memory_device a, b;
};

}  // namespace coronet::io
