// io/af_xdp_rings.cpp - the AF_XDP device's data path: RX frames from the RX
// ring to the sink and back through the fill ring, TX frames from the free
// list to the TX ring and back through the completion ring, and the io_uring
// operations that wake the kernel or the loop (see io/af_xdp.hpp).
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "io/af_xdp.hpp"
#include "io/af_xdp_impl.hpp"

namespace coronet::io {

using af_xdp_detail::eth_header;
using af_xdp_detail::grow_batch;
using af_xdp_detail::rx_batch;

// --- io_uring ----------------------------------------------------------------

void af_xdp::impl::arm_poll(queue& q) {
  io_uring_sqe* s = ring.sqe();
  io_uring_prep_poll_multishot(s, q.fd, POLLIN);
  io_uring_sqe_set_data64(s, rt::user_data(&q.poll));
  q.poll_armed = true;
}

void af_xdp::impl::on_poll(queue& q, const io_uring_cqe& cqe) {
  if (cqe.res > 0 && !closing) {
    ++dev.xstats_.poll_wakeups;
    drain_rx(q);
  }
  if (!(cqe.flags & IORING_CQE_F_MORE)) {
    q.poll_armed = false;
    if (!closing) arm_poll(q);
  }
}

void af_xdp::impl::on_kick_error(queue&, bool tx, const io_uring_cqe& cqe) {
  // Only failures post a CQE (IOSQE_CQE_SKIP_SUCCESS).
  if (!tx) {
    if (cqe.res < 0 && cqe.res != -EAGAIN && cqe.res != -EBUSY) ++dev.stats_.rx_errors;
    return;
  }
  // __xsk_generic_xmit sends at most a budget of frames per call and answers
  // EAGAIN when more remain or the driver was busy (the descriptor stays):
  // kick again. EBUSY is NET_XMIT_DROP: that frame was consumed and lost
  // (an error), but the ones behind it still want a kick.
  if (cqe.res == -EAGAIN || cqe.res == -ENOBUFS) {
    ++dev.xstats_.tx_retries;
    tx_kick_wanted = true;
  } else if (cqe.res == -EBUSY) {
    ++dev.stats_.tx_errors;
    tx_kick_wanted = true;
  } else if (cqe.res < 0) {
    ++dev.stats_.tx_errors;
  }
}

// sendto(fd, NULL, 0, MSG_DONTWAIT): the kernel transmits what the TX ring
// holds (xsk_sendmsg refuses to block, hence MSG_DONTWAIT).
void af_xdp::impl::kick_tx() {
  queue& q = *queues.front();
  tx_kick_wanted = false;
  io_uring_sqe* s = ring.sqe();
  io_uring_prep_send(s, q.fd, nullptr, 0, MSG_DONTWAIT);
  s->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(s, rt::user_data(&q.tx_kick));
  ++dev.xstats_.tx_wakeups;
}

// recvfrom(fd, NULL, 0, MSG_DONTWAIT): drivers that stop when the fill ring
// runs dry wait for this (xsk_recvmsg -> xsk_wakeup(XDP_WAKEUP_RX)).
void af_xdp::impl::kick_rx(queue& q) {
  io_uring_sqe* s = ring.sqe();
  io_uring_prep_recv(s, q.fd, nullptr, 0, MSG_DONTWAIT);
  s->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(s, rt::user_data(&q.rx_kick));
  ++dev.xstats_.rx_wakeups;
}

// --- rings -------------------------------------------------------------------

void af_xdp::impl::drain_rx(queue& q) {
  if (q.posted < q.fill_target && !q.rx_free.empty()) refill(q, 0);  // what an earlier call could not post
  for (unsigned rounds = 0; rounds < dev.cfg_.ring_size / rx_batch + 1; ++rounds) {
    std::uint32_t idx = 0;
    const std::uint32_t n = xsk_ring_cons__peek(&q.rx, rx_batch, &idx);
    if (n == 0) break;
    // The frames go back to rx_free, and the fill ring is topped up, after
    // the sink has seen them, even if it throws.
    struct give_back {
      impl* self;
      queue& q;
      std::uint32_t idx, n;
      ~give_back() {
        for (std::uint32_t i = n; i-- > 0;) q.rx_free.push_back(self->frame_base(xsk_ring_cons__rx_desc(&q.rx, idx + i)->addr));
        q.posted -= n;
        self->refill(q, n);
        xsk_ring_cons__release(&q.rx, n);
      }
    } guard{this, q, idx, n};
    for (std::uint32_t i = 0; i < n; ++i) {
      const xdp_desc* d = xsk_ring_cons__rx_desc(&q.rx, idx + i);
      const auto* frame = static_cast<const std::uint8_t*>(xsk_umem__get_data(area, d->addr));
      ++dev.stats_.rx_frames;
      ++q.rx_frames;
      dev.stats_.rx_bytes += d->len;
      if (d->len > dev.stats_.rx_max_frame) dev.stats_.rx_max_frame = d->len;
      if (sink != nullptr) sink->on_frame(bytes{frame, d->len}, rx_meta{});
    }
  }
  if (xsk_ring_prod__needs_wakeup(&q.fill)) kick_rx(q);
}

// Tops the fill ring up to fill_target frames, most recently returned first.
// `batch`: the frames the drain before this took at once (0 when none).
//
// fill_min is the whole ring unless set lower (--xdp-fill). With a small one,
// light traffic (a request, its answer) takes one frame at a time and keeps
// the target there, so it cycles through few frames: their pages stay in the
// TLB and their lines in the caches. The target doubles, up to ring_size,
// when frames queue up - a drain took grow_batch or more at once - or when the
// kernel has left less than half of the target in the ring (a burst that
// could have emptied it before the next poll). It never shrinks.
//
// It posts what fits: the kernel publishes RX descriptors before its fill
// consumer index (xsk_flush), so right after a drain the ring can look fuller
// than it is; what does not fit is posted by a later call.
void af_xdp::impl::refill(queue& q, std::uint32_t batch) {
  const unsigned ring_size = dev.cfg_.ring_size;
  if (batch != 0 && q.fill_target < ring_size) {
    // Entries the kernel has not taken (asking for ring_size free slots makes
    // libxdp read its consumer index; only while the target can still grow).
    const std::uint32_t in_fill = ring_size - xsk_prod_nb_free(&q.fill, ring_size);
    if (batch >= grow_batch || in_fill < q.fill_target / 2) {
      q.fill_target = std::min(q.fill_target * 2, ring_size);
      ++dev.xstats_.fill_growths;
    }
  }
  auto want = static_cast<std::uint32_t>(
      std::min<std::size_t>(q.fill_target > q.posted ? q.fill_target - q.posted : 0, q.rx_free.size()));
  if (want == 0) return;
  want = std::min(want, xsk_prod_nb_free(&q.fill, want));  // libxdp reads the consumer index only if short
  if (want == 0) return;
  std::uint32_t fidx = 0;
  if (xsk_ring_prod__reserve(&q.fill, want, &fidx) != want) return;  // cannot happen: `want` slots were free
  for (std::uint32_t i = 0; i < want; ++i) {
    *xsk_ring_prod__fill_addr(&q.fill, fidx + i) = q.rx_free.back();
    q.rx_free.pop_back();
  }
  xsk_ring_prod__submit(&q.fill, want);
  q.posted += want;
}

void af_xdp::impl::reclaim_tx(queue& q) {
  std::uint32_t idx = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&q.comp, dev.cfg_.ring_size, &idx);
  for (std::uint32_t i = 0; i < n; ++i) tx_free.push_back(frame_base(*xsk_ring_cons__comp_addr(&q.comp, idx + i)));
  if (n > 0) xsk_ring_cons__release(&q.comp, n);
}

void af_xdp::poll() {
  impl& p = *p_;
  for (auto& q : p.queues) p.drain_rx(*q);
  if (p.tx_kick_wanted) {
    // Still frames in the TX ring the kernel has not taken: kick again.
    impl::queue& q = *p.queues.front();
    if (__atomic_load_n(q.tx.consumer, __ATOMIC_ACQUIRE) != *q.tx.producer) p.kick_tx();
    else p.tx_kick_wanted = false;
  }
}

bool af_xdp::rx_ready() const {
  for (const auto& q : p_->queues) {
    if (__atomic_load_n(q->rx.producer, __ATOMIC_ACQUIRE) != *q->rx.consumer) return true;
  }
  return p_->tx_kick_wanted;  // a kick to repeat: do not sleep either
}

mut_bytes af_xdp::tx_buffer() {
  impl& p = *p_;
  if (p.tx_current < 0) {
    if (p.tx_free.empty()) {
      for (auto& q : p.queues) p.reclaim_tx(*q);
    }
    if (p.tx_free.empty()) {
      ++stats_.tx_ring_full;
      return {};
    }
    p.tx_current = static_cast<std::int64_t>(p.tx_free.back());
    p.tx_free.pop_back();
  }
  auto* base = static_cast<std::uint8_t*>(xsk_umem__get_data(p.area, static_cast<std::uint64_t>(p.tx_current)));
  return {base, std::size_t{mtu_} + eth_header};
}

void af_xdp::tx_commit(std::size_t len) {
  impl& p = *p_;
  if (p.tx_current < 0) throw std::logic_error("af_xdp: tx_commit without tx_buffer");
  if (len > std::size_t{mtu_} + eth_header) throw std::length_error("af_xdp: frame longer than mtu + 14");
  impl::queue& q = *p.queues.front();
  std::uint32_t idx = 0;
  // The TX ring has as many slots as there are TX frames: never full.
  if (xsk_ring_prod__reserve(&q.tx, 1, &idx) != 1) throw std::logic_error("af_xdp: TX ring full");
  xdp_desc* d = xsk_ring_prod__tx_desc(&q.tx, idx);
  d->addr = static_cast<std::uint64_t>(p.tx_current);
  d->len = static_cast<std::uint32_t>(len);
  d->options = 0;
  p.tx_current = -1;
  ++p.tx_queued;
  ++stats_.tx_frames;
  stats_.tx_bytes += len;
}

void af_xdp::flush() {
  impl& p = *p_;
  if (p.tx_queued == 0 && !p.tx_kick_wanted) return;
  impl::queue& q = *p.queues.front();
  if (p.tx_queued > 0) {
    xsk_ring_prod__submit(&q.tx, p.tx_queued);
    p.tx_queued = 0;
  }
  // Copy mode always wants the kick; a zero-copy driver clears the flag
  // while its NAPI loop is already looking at the ring.
  if (xsk_ring_prod__needs_wakeup(&q.tx) || p.tx_kick_wanted) {
    p.kick_tx();
    p.ring.submit();
  }
  p.reclaim_tx(q);
}

}  // namespace coronet::io
