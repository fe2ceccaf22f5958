// proto/tcp/tx_queue.hpp - one record per segment sent and not yet
// cumulatively acknowledged, in sequence order: the sender's scoreboard
// (RFC 6675: SACKed, lost, retransmitted) and the per-segment transmit times
// RACK needs (RFC 8985 5.2). A ring that doubles when full, so steady traffic
// allocates nothing; it holds at most one record per segment in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "proto/types.hpp"

namespace coronet::tcp {

struct tx_seg {
  enum flag : std::uint8_t {
    sacked = 1,        // covered by a SACK block (RFC 2018)
    lost = 2,          // marked lost (RACK, dupthresh, RTO); waits for retransmission
    retrans = 4,       // a retransmission of it is in flight (Linux TCPCB_SACKED_RETRANS)
    ever_retrans = 8,  // retransmitted at least once: no RTT sample from it (Karn)
    fin = 16,          // carries the FIN (its last sequence number)
    probe = 32,        // a zero-window probe byte
  };
  std::uint32_t seq = 0, end = 0;  // [seq, end) in sequence space
  time_point xmit{};               // last (re)transmission
  time_point first_xmit{};         // first transmission
  std::uint64_t xmit_order = 0;    // the connection's transmission count at the last send
  std::uint8_t flags = 0;
  bool has(flag f) const { return (flags & f) != 0; }
  std::uint32_t len() const { return end - seq; }
};

class tx_queue {
 public:
  tx_queue() = default;
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  tx_seg& operator[](std::size_t i) { return buf_[(head_ + i) & (cap_ - 1)]; }
  const tx_seg& operator[](std::size_t i) const { return buf_[(head_ + i) & (cap_ - 1)]; }
  tx_seg& front() { return (*this)[0]; }
  tx_seg& back() { return (*this)[n_ - 1]; }

  void push_back(const tx_seg& s) {
    if (n_ == cap_) grow();
    buf_[(head_ + n_) & (cap_ - 1)] = s;
    ++n_;
  }
  void pop_front() {
    head_ = (head_ + 1) & (cap_ - 1);
    --n_;
  }
  void clear() { head_ = n_ = 0; }

 private:
  void grow() {
    std::size_t cap = cap_ ? cap_ * 2 : 64;
    auto bigger = std::make_unique<tx_seg[]>(cap);
    for (std::size_t i = 0; i < n_; ++i) bigger[i] = (*this)[i];
    buf_ = std::move(bigger);
    cap_ = cap;
    head_ = 0;
  }
  std::unique_ptr<tx_seg[]> buf_;
  std::size_t cap_ = 0, head_ = 0, n_ = 0;
};

}  // namespace coronet::tcp
