// io/af_xdp.hpp - a device on a Linux interface through AF_XDP sockets, with
// coronet's own XDP program steering only coronet's traffic to them.
//
// Program (io/bpf/coronet_xdp.bpf.c, built with clang's BPF target and linked
// into this library): IPv4 frames addressed to `addr` and ARP frames whose
// target is `addr` go to the AF_XDP socket of the queue they arrived on;
// everything else is XDP_PASS, so the kernel keeps using the interface. It is
// attached through a bpf_link (bpf_link_create, BPF_XDP): the kernel detaches
// it when the last descriptor closes, so even a SIGKILLed coronet leaves
// nothing behind. A program left by other means (netlink attach) is found at
// start-up by name and by the owner's PID in its config map; when that process
// is gone it is removed and a line on stderr says so.
//
// Sockets: one per RX queue (or only `queue`), all sharing one UMEM owned by
// the device. Each socket has its own fill and completion rings; RX frames
// are handed to the sink in place and go back to their queue's free list
// after on_frame returns. Each fill ring is kept at a target of frames, the
// ones returned last first. The target starts at fill_min, by default (0) the
// whole ring; a smaller one (--xdp-fill 64) makes request/response traffic
// cycle through few frames, whose pages and cache lines stay warm (a p50
// round trip on veth up to 1 us shorter than cycling through 2048), and
// doubles, up to ring_size, when frames come in batches or a poll finds the
// kernel has used more than half (af_xdp_rings.cpp, refill). TX frames are written
// straight into UMEM frames from a free list (last returned first) and sent
// on the first socket; completed frames return to it. No allocation per frame.
//
// io_uring: sleeping loops arm a multishot IORING_OP_POLL_ADD on each socket
// (a wake-up only; frames are read from the rings). TX wake-ups (sendto with
// MSG_DONTWAIT) and fill-ring wake-ups (recvfrom) are IORING_OP_SEND / RECV
// SQEs with IOSQE_CQE_SKIP_SUCCESS on the runtime's ring, issued only when
// the kernel sets XDP_RING_NEED_WAKEUP (XDP_USE_NEED_WAKEUP is always asked
// for). Busy-polling loops arm no poll: poll() reads the rings directly and
// makes no syscall unless a ring needs a wake-up.
//
// Modes: XDP native (driver) or generic (SKB); binding zero-copy or copy.
// `automatic` tries native then generic, zero-copy then copy; describe()
// reports what was chosen and why. Needs CAP_NET_ADMIN, CAP_BPF and
// CAP_NET_RAW (root), and CAP_IPC_LOCK or an RLIMIT_MEMLOCK above the UMEM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/device.hpp"
#include "io/xdp_program.hpp"
#include "proto/types.hpp"
#include "runtime/uring.hpp"

namespace coronet::io {

enum class xdp_bind { automatic, zerocopy, copy };   // --xdp-bind auto|zerocopy|copy

const char* to_string(xdp_bind b) noexcept;  // the --xdp-bind spelling

inline constexpr unsigned default_ring_size = 2048;  // af_xdp_config::ring_size, and --xdp-fill's bound

struct af_xdp_config {
  std::string ifname{};
  ipv4_addr addr{};                 // coronet's address: its IPv4 and ARP go to the sockets
  xdp_mode mode = xdp_mode::automatic;
  xdp_bind bind = xdp_bind::automatic;
  int queue = -1;                   // -1: a socket on every RX queue; else only this queue
  unsigned ring_size = default_ring_size;  // RX, TX, fill and completion rings; power of two
  unsigned fill_min = 0;            // RX frames in each fill ring at first (--xdp-fill); 0: the whole ring (af_xdp_rings.cpp, refill)
  unsigned frame_size = 4096;       // UMEM frame; 2048 or 4096
  bool busy_poll = false;           // the loop polls the rings: arm no IORING_OP_POLL_ADD
};

struct af_xdp_stats {  // beyond device_stats; XDP_STATISTICS is read on demand
  std::uint64_t tx_wakeups = 0;     // sendto kicks issued (XDP_RING_NEED_WAKEUP on TX)
  std::uint64_t rx_wakeups = 0;     // recvfrom kicks issued (NEED_WAKEUP on a fill ring)
  std::uint64_t poll_wakeups = 0;   // IORING_OP_POLL_ADD completions (sleeping loops)
  std::uint64_t tx_retries = 0;     // kicks answered EAGAIN/EBUSY (the kernel's TX budget) and repeated
  std::uint64_t fill_growths = 0;   // times a queue's fill target doubled (the kernel had used over half)
};

class af_xdp final : public device {
 public:
  // Throws std::runtime_error naming what is missing: the interface, the
  // queue (an RX queue, and a TX queue of the same id for the first one),
  // kernel support for a mode, privileges (CAP_NET_ADMIN, CAP_BPF,
  // CAP_NET_RAW; memlock for the UMEM), or the failing call with its errno
  // text. Nothing stays attached on failure.
  // A queue another socket still holds (EBUSY) is retried for up to 2 s: a
  // socket closed just before lets go of its queue shortly after the close.
  af_xdp(rt::uring& ring, const af_xdp_config& c);
  ~af_xdp() override;  // detaches the program, closes the sockets, frees UMEM
  af_xdp(const af_xdp&) = delete;
  af_xdp& operator=(const af_xdp&) = delete;

  void start(rx_sink& sink) override;
  mut_bytes tx_buffer() override;
  void tx_commit(std::size_t len) override;
  void flush() override;
  void poll() override;
  bool rx_ready() const override;

  mac_addr mac() const override { return mac_; }
  std::uint16_t mtu() const override { return mtu_; }
  const device_stats& stats() const override { return stats_; }
  std::string name() const override { return "af_xdp:" + cfg_.ifname; }
  std::string describe() const override;
  void for_each_extra(const extra_fn& fn) const override;

  xdp_mode mode() const noexcept { return mode_; }     // native or generic, as attached
  xdp_bind bind() const noexcept { return bind_; }     // zerocopy or copy, as bound
  const af_xdp_stats& xdp_stats() const noexcept { return xstats_; }
  std::vector<int> queues() const;

 private:
  struct impl;
  af_xdp_config cfg_;
  mac_addr mac_{};
  std::uint16_t mtu_ = 1500;
  xdp_mode mode_ = xdp_mode::native;
  xdp_bind bind_ = xdp_bind::copy;
  device_stats stats_{};
  af_xdp_stats xstats_{};
  std::unique_ptr<impl> p_;  // last: destroyed first, while the members it reads still live
};

}  // namespace coronet::io
