// latency-bench --timing: a device wrapper that stamps, on the program's own
// side, when each frame was handed over by the device and when the next
// flush() submitted what the program sent back, so a round trip can be split
// into the time the program holds a message and the time it spends in the
// kernel and on the link.
//
// turnaround: from a frame's delivery (on_frame) to the first frame committed
// after it (rx_to_commit: the program's own work) and to the flush that
// submits it (rx_to_flush). For the servers that is their share of a round
// trip; raw-pong's is the floor for it. af_packet's frames may leave before
// the flush: io_uring submits the send SQE whenever the scheduler submits.
#include <string>

#include "latency.hpp"
#include "runtime/clock.hpp"

namespace coronet::latency {

timing_device::timing_device(std::unique_ptr<io::device> inner) : forwarding_device(std::move(inner)) {
  to_commit_.reserve(1 << 20);
  to_flush_.reserve(1 << 20);
}

void timing_device::on_frame(bytes frame, rx_meta meta) {
  const time_point now = rt::steady_now();
  last_rx_ = now;
  if (!rx_pending_) first_rx_ = now;
  rx_pending_ = true;
  sink_->on_frame(frame, meta);
}

void timing_device::tx_commit(std::size_t len) {
  if (!committed_) first_commit_ = rt::steady_now();
  committed_ = true;
  inner_->tx_commit(len);
}

void timing_device::flush() {
  if (committed_) {
    const time_point now = rt::steady_now();
    last_flush_ = now;
    last_commit_ = first_commit_;
    if (rx_pending_ && to_flush_.size() < to_flush_.capacity()) {
      to_commit_.push_back((first_commit_ - first_rx_).count());
      to_flush_.push_back((now - first_rx_).count());
    }
    rx_pending_ = false;
    committed_ = false;
  }
  inner_->flush();
}

std::string timing_device::turnaround_summary() const {
  std::vector<std::int64_t> c = to_commit_, f = to_flush_;
  return "turnaround_n=" + std::to_string(f.size()) + " rx_to_commit_p50=" + percentile_us(c, 0.5) +
         " rx_to_flush_p50=" + percentile_us(f, 0.5) + " rx_to_flush_p90=" + percentile_us(f, 0.9);
}

}  // namespace coronet::latency
