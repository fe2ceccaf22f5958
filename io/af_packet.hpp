// io/af_packet.hpp - a device on a Linux interface through an AF_PACKET
// SOCK_RAW socket, driven by io_uring.
//
// RX: one multishot IORING_OP_RECVMSG over a provided-buffer ring (registered
// by hand: liburing 2.3 has no io_uring_setup_buf_ring). Each buffer holds
// the recvmsg header, the sockaddr_ll, a PACKET_AUXDATA cmsg and the frame;
// TP_STATUS_CSUMNOTREADY becomes rx_meta::csum_not_ready. The receive is
// re-armed whenever the kernel ends it (no IORING_CQE_F_MORE); -ENOBUFS (the
// buffer ring ran dry) is counted and re-armed. Buffers are large enough for
// the TSO super-frames the kernel's veth produces (MEASURED.md).
// TX: buffers cut from one region; each frame is one IORING_OP_SEND with
// MSG_DONTWAIT and IOSQE_CQE_SKIP_SUCCESS. The region is registered as a fixed
// buffer and sent with IORING_RECVSEND_FIXED_BUF when a start-up probe shows
// the kernel accepts that on plain sends (6.18 answers EINVAL: plain sends). MSG_DONTWAIT makes the kernel
// finish the send while it consumes the SQE (io_sendmsg_prep sets
// REQ_F_NOWAIT: no poll retry), so a buffer is free once the SQ head has
// passed its SQE; failures still post a CQE and are counted in tx_errors.
// Needs CAP_NET_RAW.
#pragma once

#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/device.hpp"
#include "runtime/uring.hpp"

namespace coronet::io {

struct af_packet_config {
  std::string ifname{};
  unsigned rx_buffers = 64;                   // power of two
  std::size_t rx_buffer_size = 65536 + 256;   // TSO super-frames plus headers (MEASURED.md)
  unsigned tx_buffers = 256;
};

class af_packet final : public device {
 public:
  // Throws std::runtime_error: "interface X not found", "AF_PACKET needs
  // CAP_NET_RAW (run as root)", or the failing call and errno text.
  af_packet(rt::uring& ring, const af_packet_config& c);
  ~af_packet() override;  // cancels the receive and waits for its last CQE
  af_packet(const af_packet&) = delete;
  af_packet& operator=(const af_packet&) = delete;

  void start(rx_sink& sink) override;
  mut_bytes tx_buffer() override;
  void tx_commit(std::size_t len) override;
  void flush() override;

  mac_addr mac() const override { return mac_; }
  std::uint16_t mtu() const override { return mtu_; }
  const device_stats& stats() const override { return stats_; }
  std::string name() const override { return "af_packet:" + cfg_.ifname; }
  std::string describe() const override;  // "af_packet on IF: mtu N, sends from ..."

  int fd() const noexcept { return fd_; }
  int ifindex() const noexcept { return ifindex_; }
  bool fixed_buffers() const noexcept { return fixed_index_ >= 0; }  // sends from the registered region

 private:
  struct rx_op final : rt::completion {
    af_packet* self;
    void complete(const io_uring_cqe& cqe) override { self->on_rx(cqe); }
  };
  struct tx_op final : rt::completion {
    af_packet* self;
    void complete(const io_uring_cqe& cqe) override { self->on_tx_error(cqe); }
  };
  struct tx_inflight {
    std::uint32_t slot;
    unsigned sqe_seq;  // uring::sq_tail() before its SQE was taken
  };

  void open_socket();
  void setup_rx();
  void setup_tx();
  void arm_rx();
  void on_rx(const io_uring_cqe& cqe);
  void on_tx_error(const io_uring_cqe& cqe);
  void reclaim_tx();
  void recycle(std::uint16_t bid);

  rt::uring& ring_;
  af_packet_config cfg_;
  int fd_ = -1;
  int ifindex_ = 0;
  mac_addr mac_{};
  std::uint16_t mtu_ = 1500;
  device_stats stats_{};
  rx_sink* sink_ = nullptr;

  // RX: provided-buffer ring + buffers + the multishot recvmsg's msghdr.
  rx_op rx_op_{};
  bool rx_armed_ = false;
  bool closing_ = false;
  std::uint16_t bgid_ = 0;
  io_uring_buf_ring* br_ = nullptr;
  std::size_t br_bytes_ = 0;
  std::uint8_t* rx_mem_ = nullptr;
  std::size_t rx_mem_bytes_ = 0;
  msghdr rx_msg_{};

  // TX: one registered region cut into tx_stride_ slots.
  tx_op tx_op_{};
  std::uint8_t* tx_mem_ = nullptr;
  std::size_t tx_mem_bytes_ = 0;
  std::size_t tx_stride_ = 0;
  int fixed_index_ = -1;
  std::vector<std::uint32_t> tx_free_;
  std::vector<tx_inflight> tx_queue_;  // FIFO ring of sent slots awaiting SQ-head passage
  std::size_t tx_q_head_ = 0, tx_q_count_ = 0;
  std::int64_t tx_current_ = -1;       // slot handed out by tx_buffer(), not yet committed
  bool tx_pending_ = false;            // SQEs prepared since the last flush
};

}  // namespace coronet::io
