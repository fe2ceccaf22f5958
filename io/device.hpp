// io/device.hpp - a packet device: whole Ethernet frames in and out.
//
// RX: start(sink) arms reception; each frame is handed to sink.on_frame while
// completions are reaped (or in poll(), for devices not driven by io_uring).
// The bytes belong to the device and are valid only during that call.
// TX: write a frame into tx_buffer(), tx_commit(len) queues it, flush()
// submits everything queued. A TX buffer is reused only once the kernel (or
// peer) is done with it; tx_buffer() returns an empty span while all are busy.
// Single-threaded, like the scheduler that drives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "proto/engine.hpp"
#include "proto/types.hpp"

namespace coronet::io {

struct device_stats {
  std::uint64_t rx_frames = 0, rx_bytes = 0;
  std::uint64_t tx_frames = 0, tx_bytes = 0;
  std::uint64_t rx_enobufs = 0;         // receive buffers ran out (frames lost in the kernel)
  std::uint64_t rx_truncated = 0;       // frames larger than a receive buffer, dropped
  std::uint64_t tx_ring_full = 0;       // tx_buffer() found every buffer in flight
  std::uint64_t rx_csum_not_ready = 0;  // frames delivered with rx_meta::csum_not_ready
  std::uint64_t rx_max_frame = 0;       // longest frame delivered (above mtu + 14: a TSO/GRO super-frame)
  std::uint64_t tx_errors = 0;          // sends the kernel refused (frame lost)
  std::uint64_t rx_errors = 0;          // receive completions with an error other than ENOBUFS
};

class rx_sink {
 public:
  virtual void on_frame(bytes frame, rx_meta meta) = 0;

 protected:
  ~rx_sink() = default;
};

class device {
 public:
  virtual ~device() = default;

  // Arms reception; frames go to `sink` from now on. Call once.
  virtual void start(rx_sink& sink) = 0;
  // A free TX buffer of at least mtu() + 14 bytes, or empty when all are in flight.
  virtual mut_bytes tx_buffer() = 0;
  // Queues the frame of `len` bytes written into the last tx_buffer().
  virtual void tx_commit(std::size_t len) = 0;
  // Submits queued frames.
  virtual void flush() = 0;
  // Delivers received frames, for devices not driven by io_uring completions.
  virtual void poll() {}
  // True when poll() has frames to deliver right now (a sleeping loop must not wait).
  virtual bool rx_ready() const { return false; }

  virtual mac_addr mac() const = 0;
  virtual std::uint16_t mtu() const = 0;  // IP MTU; frames are up to mtu() + 14 bytes (more with offloads)
  virtual const device_stats& stats() const = 0;
  virtual std::string name() const = 0;
  // One line for start-up: the device, interface and the mode it runs in.
  virtual std::string describe() const { return name(); }
  // Device-specific counters beyond device_stats, as (name, value) pairs.
  using extra_fn = std::function<void(std::string_view, std::uint64_t)>;
  virtual void for_each_extra(const extra_fn&) const {}
};

}  // namespace coronet::io
