// io/af_xdp_impl.hpp - the AF_XDP device's state, shared by its two source
// files: io/af_xdp.cpp (start-up, teardown, description, counters) and
// io/af_xdp_rings.cpp (the data path: the rings, the kicks, the TX frames).
// Internal to io/; nothing outside includes it.
#pragma once

#include <linux/if_xdp.h>

#include <xdp/xsk.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/af_xdp.hpp"
#include "runtime/uring.hpp"

namespace coronet::io {

namespace af_xdp_detail {
inline constexpr std::size_t eth_header = 14;
inline constexpr unsigned rx_batch = 64;         // RX descriptors taken per peek
inline constexpr std::uint32_t grow_batch = 16;  // frames taken at once that double the fill target (refill)
}  // namespace af_xdp_detail

struct af_xdp::impl {
  // One socket on one RX queue, with its own fill and completion rings.
  struct queue final {
    af_xdp::impl* owner = nullptr;
    int id = 0;
    xsk_socket* xsk = nullptr;
    int fd = -1;
    xsk_ring_cons rx{};
    xsk_ring_prod tx{};
    xsk_ring_prod fill{};
    xsk_ring_cons comp{};
    struct poll_op final : rt::completion {
      queue* q;
      void complete(const io_uring_cqe& cqe) override { q->owner->on_poll(*q, cqe); }
    } poll{};
    struct kick_op final : rt::completion {
      queue* q;
      bool tx;
      void complete(const io_uring_cqe& cqe) override { q->owner->on_kick_error(*q, tx, cqe); }
    } tx_kick{}, rx_kick{};
    bool poll_armed = false;
    // RX frames: `posted` are the kernel's (in the fill ring or on their way
    // back through the RX ring), the rest wait in rx_free, last returned on
    // top. The kernel takes fill entries oldest first, so the frames in use
    // are the last `fill_target` returned: few pages and cache lines while
    // traffic is light (see refill()).
    std::vector<std::uint64_t> rx_free;
    std::uint32_t posted = 0;
    std::uint32_t fill_target = 0;
    std::uint64_t rx_frames = 0;  // taken from this queue's RX ring (XdpRxFramesQ<id>)
  };

  af_xdp& dev;
  rt::uring& ring;
  int ifindex = 0;

  std::unique_ptr<xdp_program> program;

  void* area = nullptr;
  std::size_t area_bytes = 0;
  xsk_umem* umem = nullptr;
  std::vector<std::unique_ptr<queue>> queues;  // stable addresses: libxdp keeps ring pointers

  std::vector<std::uint64_t> tx_free;  // UMEM addresses of free TX frames
  std::int64_t tx_current = -1;        // frame handed out by tx_buffer(), not yet committed
  std::uint32_t tx_queued = 0;         // descriptors reserved since the last submit
  bool tx_kick_wanted = false;         // the kernel asked for a kick, or the last one hit its budget
  bool closing = false;
  rx_sink* sink = nullptr;
  std::string bind_notes;              // for describe(): how the sockets bound, and why

  impl(af_xdp& d, rt::uring& r) : dev(d), ring(r) {}
  ~impl();

  void find_interface();
  void create_umem(unsigned nqueues);
  void create_socket(int qid, bool first);
  int bind_socket(queue& q, int qid, const xsk_socket_config& sc);

  void arm_poll(queue& q);
  void on_poll(queue& q, const io_uring_cqe& cqe);
  void on_kick_error(queue& q, bool tx, const io_uring_cqe& cqe);
  void kick_tx();
  void kick_rx(queue& q);
  void refill(queue& q, std::uint32_t batch);
  void drain_rx(queue& q);
  void reclaim_tx(queue& q);
  std::uint64_t frame_base(std::uint64_t addr) const { return addr & ~std::uint64_t{dev.cfg_.frame_size - 1}; }
};

}  // namespace coronet::io
