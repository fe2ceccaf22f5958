// benchmarks/latency-bench/raw_tap.hpp - raw round trips on the device a TCP
// stack is using, so tcp-ping can interleave raw and TCP samples in one run
// (--interleave-raw) and both meet the same host conditions.
//
// A device wrapper between the device and the stack. Frames that are
// latency-bench raw frames (raw_frame.hpp) addressed to `self` stop here;
// everything else goes on to the stack untouched.
//   answering (tcp-server): each raw request is answered at once, in place of
//     raw-pong, and flushed before the stack sees any later frame;
//   timing (tcp-ping, after aim()): `co_await tap.ping()` sends one request
//     and resumes with its round trip, timed as raw-ping times it: from just
//     before the flush to the reply's delivery by the device; nullopt when no
//     reply came within 100 ms (counted lost) or no TX buffer was free.
// The check costs every frame a few compares; the stack's own frames reach
// it unchanged.
#pragma once

#include <coroutine>
#include <memory>
#include <optional>
#include <vector>

#include "latency.hpp"
#include "proto/types.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer_queue.hpp"

namespace coronet::latency {

class raw_tap final : public forwarding_device {
 public:
  raw_tap(rt::scheduler& sched, std::unique_ptr<io::device> inner, ipv4_addr self);

  // Timing role: requests of `frame_bytes` to `peer` at `peer_mac`.
  void aim(ipv4_addr peer, mac_addr peer_mac, std::size_t frame_bytes);

  // Answering role: run `w` before each answer (tcp-server --raw-work).
  void set_work(raw_work* w) noexcept { work_ = w; }

  class ping_awaiter final : private rt::timer_node {
   public:
    explicit ping_awaiter(raw_tap& t) : tap_(t) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    std::optional<duration> await_resume() const noexcept { return rtt_; }
    ping_awaiter(const ping_awaiter&) = delete;
    ping_awaiter& operator=(const ping_awaiter&) = delete;
    ~ping_awaiter();

   private:
    friend class raw_tap;
    void fire() override;  // no reply in time
    raw_tap& tap_;
    std::coroutine_handle<> waiter_;
    std::optional<duration> rtt_;
  };
  ping_awaiter ping() { return ping_awaiter(*this); }

  std::uint64_t answered() const noexcept { return answered_; }  // requests answered (answering role)
  std::uint64_t sent() const noexcept { return seq_; }           // requests sent (timing role)
  std::uint64_t replies() const noexcept { return replies_; }    // replies delivered, strays included
  std::uint64_t lost() const noexcept { return lost_; }          // requests unanswered in 100 ms
  std::uint64_t strays() const noexcept { return strays_; }      // replies to requests already counted lost

 private:
  void on_frame(bytes frame, rx_meta meta) override;
  void answer(bytes request);

  rt::scheduler& sched_;
  ipv4_addr self_;
  ipv4_addr peer_{};
  std::vector<std::uint8_t> frame_;  // the timing role's request; empty while answering
  std::uint64_t seq_ = 0, answered_ = 0, replies_ = 0, lost_ = 0, strays_ = 0;
  ping_awaiter* waiting_ = nullptr;
  raw_work* work_ = nullptr;
  time_point sent_at_{};
};

}  // namespace coronet::latency
