// latency-bench: raw round trips beside a TCP stack on one device (raw_tap.hpp).
#include "raw_tap.hpp"

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "raw_frame.hpp"
#include "runtime/clock.hpp"

namespace coronet::latency {

namespace {
constexpr duration reply_timeout = std::chrono::milliseconds(100);  // as raw-ping's
}

raw_tap::raw_tap(rt::scheduler& sched, std::unique_ptr<io::device> inner, ipv4_addr self)
    : forwarding_device(std::move(inner)), sched_(sched), self_(self) {}

void raw_tap::aim(ipv4_addr peer, mac_addr peer_mac, std::size_t frame_bytes) {
  peer_ = peer;
  frame_.assign(std::max(frame_bytes, raw_frame::min_len), 0);
  raw_frame::build(frame_, inner_->mac(), peer_mac, self_, peer);
}

void raw_tap::on_frame(bytes f, rx_meta meta) {
  if (!raw_frame::is_experiment_to(f, self_)) {
    sink_->on_frame(f, meta);
    return;
  }
  if (frame_.empty()) {
    answer(f);
    return;
  }
  const time_point now = rt::steady_now();
  if (raw_frame::source_of(f) != peer_) return;
  ++replies_;
  if (waiting_ == nullptr || raw_frame::seq_of(f) != seq_) {
    ++strays_;
    return;
  }
  ping_awaiter* w = std::exchange(waiting_, nullptr);
  sched_.cancel_timer(*w);
  w->rtt_ = now - sent_at_;
  sched_.schedule(w->waiter_);
}

// As raw-pong: the reply leaves at once (after --raw-work, if any), before the
// next frame is looked at. The TX buffer is taken first, so the work runs only
// for a request that is answered (one run per answer).
void raw_tap::answer(bytes request) {
  mut_bytes out = inner_->tx_buffer();
  if (out.size() < request.size()) return;  // every buffer in flight: the pinger counts it lost
  if (work_ != nullptr) work_->run();
  raw_frame::write_reply(out, request, inner_->mac());
  inner_->tx_commit(request.size());
  inner_->flush();
  ++answered_;
}

bool raw_tap::ping_awaiter::await_suspend(std::coroutine_handle<> h) {
  raw_tap& t = tap_;
  if (t.frame_.empty()) throw std::logic_error("raw_tap::ping before aim");
  if (!raw_frame::commit_request(*t.inner_, t.frame_, t.seq_ + 1)) return false;  // no buffer: resume with nullopt
  ++t.seq_;
  waiter_ = h;
  t.waiting_ = this;
  t.sched_.add_timer(*this, t.sched_.now() + reply_timeout);  // armed before a reply can cancel it
  t.sent_at_ = rt::steady_now();  // the send is submitted by the flush
  t.inner_->flush();
  return true;
}

void raw_tap::ping_awaiter::fire() {
  ++tap_.lost_;
  if (tap_.waiting_ == this) tap_.waiting_ = nullptr;
  tap_.sched_.schedule(waiter_);
}

raw_tap::ping_awaiter::~ping_awaiter() {
  if (tap_.waiting_ == this) tap_.waiting_ = nullptr;  // a frame destroyed while waiting
  tap_.sched_.cancel_timer(*this);
}

}  // namespace coronet::latency
