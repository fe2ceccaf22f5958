// io/af_packet.cpp - AF_PACKET socket set-up, multishot receive over a
// provided-buffer ring, sends from a registered region.
#include "io/af_packet.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace coronet::io {

namespace {

constexpr std::size_t eth_header = 14;

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error("af_packet: " + what + ": " + std::strerror(err));
}

void* map_anonymous(std::size_t len, const char* what) {
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) fail(std::string("mmap for ") + what, errno);
  return p;
}

bool power_of_two(unsigned v) { return v != 0 && (v & (v - 1)) == 0; }

// Completes one probe send (see setup_tx).
struct probe_op final : rt::completion {
  bool done = false;
  int res = 0;
  void complete(const io_uring_cqe& cqe) override {
    done = true;
    res = cqe.res;
  }
};

}  // namespace

af_packet::af_packet(rt::uring& ring, const af_packet_config& c) : ring_(ring), cfg_(c) {
  if (!power_of_two(cfg_.rx_buffers) || cfg_.rx_buffers > 32768) {
    throw std::invalid_argument("af_packet: rx_buffers must be a power of two up to 32768");
  }
  if (cfg_.tx_buffers == 0) throw std::invalid_argument("af_packet: tx_buffers must be > 0");
  ring_.require({IORING_OP_RECVMSG, IORING_OP_SEND, IORING_OP_ASYNC_CANCEL}, "af_packet");
  rx_op_.self = this;
  tx_op_.self = this;
  try {
    open_socket();
    // Smaller buffers than a frame are allowed: such frames count as rx_truncated.
    if (cfg_.rx_buffer_size < 512 || cfg_.rx_buffer_size > (1u << 31)) {
      throw std::invalid_argument("af_packet: rx_buffer_size must be 512 bytes .. 2 GiB");
    }
    setup_rx();
    setup_tx();
  } catch (...) {
    closing_ = true;
    if (fixed_index_ >= 0) ring_.unregister_fixed_buffer(fixed_index_);
    if (br_ != nullptr) {
      io_uring_unregister_buf_ring(ring_.get(), bgid_);
      ::munmap(br_, br_bytes_);
    }
    if (rx_mem_ != nullptr) ::munmap(rx_mem_, rx_mem_bytes_);
    if (tx_mem_ != nullptr) ::munmap(tx_mem_, tx_mem_bytes_);
    if (fd_ >= 0) ::close(fd_);
    throw;
  }
}

void af_packet::open_socket() {
  ifindex_ = static_cast<int>(::if_nametoindex(cfg_.ifname.c_str()));
  if (ifindex_ == 0) throw std::runtime_error("af_packet: interface " + cfg_.ifname + " not found");

  // Protocol 0 receives nothing until bind() names ETH_P_ALL, so no frame of
  // another interface slips in between socket() and bind() (packet(7)).
  fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    if (errno == EPERM || errno == EACCES) throw std::runtime_error("AF_PACKET needs CAP_NET_RAW (run as root)");
    fail("socket", errno);
  }

  ifreq ifr{};
  std::strncpy(ifr.ifr_name, cfg_.ifname.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd_, SIOCGIFHWADDR, &ifr) < 0) fail("SIOCGIFHWADDR " + cfg_.ifname, errno);
  std::memcpy(mac_.b.data(), ifr.ifr_hwaddr.sa_data, 6);
  if (::ioctl(fd_, SIOCGIFMTU, &ifr) < 0) fail("SIOCGIFMTU " + cfg_.ifname, errno);
  // Loopback's 65536 does not fit the 16-bit MTU of the device interface.
  mtu_ = static_cast<std::uint16_t>(std::clamp(ifr.ifr_mtu, 68, 65535));

  int one = 1;
  // Our own transmissions are not looped back to us (packet_rcv skips
  // PACKET_OUTGOING when po->prot_hook.ignore_outgoing).
  if (::setsockopt(fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
    fail("PACKET_IGNORE_OUTGOING", errno);
  }
  // tpacket_auxdata carries TP_STATUS_CSUMNOTREADY for offloaded checksums.
  if (::setsockopt(fd_, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) fail("PACKET_AUXDATA", errno);
  // Large socket buffers: MSG_DONTWAIT sends fail rather than wait when the
  // send buffer is full. Best effort (needs CAP_NET_ADMIN for FORCE).
  int big = 4 << 20;
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);

  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex_;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {
    if (errno == EPERM || errno == EACCES) throw std::runtime_error("AF_PACKET needs CAP_NET_RAW (run as root)");
    fail("bind to " + cfg_.ifname, errno);
  }
}

// liburing 2.3 has no io_uring_setup_buf_ring: map the ring and register it.
void af_packet::setup_rx() {
  const unsigned n = cfg_.rx_buffers;
  br_bytes_ = n * sizeof(io_uring_buf);
  br_ = static_cast<io_uring_buf_ring*>(map_anonymous(br_bytes_, "the buffer ring"));
  io_uring_buf_ring_init(br_);
  bgid_ = ring_.allocate_buffer_group();
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(br_);
  reg.ring_entries = n;
  reg.bgid = bgid_;
  if (int rc = io_uring_register_buf_ring(ring_.get(), &reg, 0); rc < 0) {
    ::munmap(br_, br_bytes_);
    br_ = nullptr;
    fail("io_uring_register_buf_ring", -rc);
  }

  rx_mem_bytes_ = n * cfg_.rx_buffer_size;
  rx_mem_ = static_cast<std::uint8_t*>(map_anonymous(rx_mem_bytes_, "receive buffers"));
  const int mask = io_uring_buf_ring_mask(n);
  for (unsigned i = 0; i < n; ++i) {
    io_uring_buf_ring_add(br_, rx_mem_ + i * cfg_.rx_buffer_size, static_cast<unsigned>(cfg_.rx_buffer_size),
                          static_cast<unsigned short>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br_, static_cast<int>(n));

  // Each buffer: io_uring_recvmsg_out, the sockaddr_ll, room for one
  // PACKET_AUXDATA cmsg, then the frame.
  rx_msg_ = msghdr{};
  // The kernel reserves msg_namelen bytes after the 16-byte header; round the
  // 20-byte sockaddr_ll up so the cmsg that follows is 8-byte aligned.
  rx_msg_.msg_namelen = (sizeof(sockaddr_ll) + alignof(cmsghdr) - 1) & ~(alignof(cmsghdr) - 1);
  rx_msg_.msg_controllen = CMSG_SPACE(sizeof(tpacket_auxdata));
}

void af_packet::setup_tx() {
  tx_stride_ = (std::size_t{mtu_} + eth_header + 63) & ~std::size_t{63};
  tx_mem_bytes_ = cfg_.tx_buffers * tx_stride_;
  tx_mem_ = static_cast<std::uint8_t*>(map_anonymous(tx_mem_bytes_, "transmit buffers"));
  tx_free_.reserve(cfg_.tx_buffers);
  for (unsigned i = cfg_.tx_buffers; i-- > 0;) tx_free_.push_back(i);
  tx_queue_.resize(cfg_.tx_buffers);

  // Sending from a registered buffer with plain IORING_OP_SEND is recent
  // (IORING_RECVSEND_FIXED_BUF in io_send_setup); try one byte over a unix
  // socket pair and fall back to ordinary sends when the kernel refuses.
  fixed_index_ = ring_.register_fixed_buffer(tx_mem_, tx_mem_bytes_);
  if (fixed_index_ < 0) return;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0) fail("socketpair", errno);
  probe_op probe;
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_send(s, sv[0], tx_mem_, 1, MSG_DONTWAIT);
  s->ioprio |= IORING_RECVSEND_FIXED_BUF;
  s->buf_index = static_cast<std::uint16_t>(fixed_index_);
  io_uring_sqe_set_data64(s, rt::user_data(&probe));
  ring_.submit();
  for (int i = 0; i < 1000 && !probe.done; ++i) {
    ring_.reap();
    if (!probe.done) ring_.wait(std::chrono::milliseconds(1));
  }
  ::close(sv[0]);
  ::close(sv[1]);
  if (!probe.done) throw std::runtime_error("af_packet: probe send never completed");
  if (probe.res != 1) {
    ring_.unregister_fixed_buffer(fixed_index_);
    fixed_index_ = -1;
  }
}

af_packet::~af_packet() {
  closing_ = true;
  flush();
  if (rx_armed_) {
    io_uring_sqe* s = ring_.sqe();
    io_uring_prep_cancel64(s, rt::user_data(&rx_op_), 0);  // its own CQE has user_data 0
    ring_.submit();
    // The receive's last CQE (no IORING_CQE_F_MORE) must arrive before rx_op_ dies.
    for (int i = 0; i < 2000 && rx_armed_; ++i) {
      ring_.reap();
      if (rx_armed_) ring_.wait(std::chrono::milliseconds(1));
    }
  }
  ring_.reap();  // failed sends post their CQEs during submission
  if (fixed_index_ >= 0) ring_.unregister_fixed_buffer(fixed_index_);
  io_uring_unregister_buf_ring(ring_.get(), bgid_);
  ::munmap(br_, br_bytes_);
  ::munmap(rx_mem_, rx_mem_bytes_);
  ::munmap(tx_mem_, tx_mem_bytes_);
  ::close(fd_);
}

std::string af_packet::describe() const {
  return "af_packet on " + cfg_.ifname + ": mtu " + std::to_string(mtu_) +
         (fixed_buffers() ? ", sends from a registered buffer" : ", plain sends (no fixed-buffer send in this kernel)");
}

void af_packet::start(rx_sink& sink) {
  if (sink_ != nullptr) throw std::logic_error("af_packet: start called twice");
  sink_ = &sink;
  arm_rx();
  ring_.submit();
}

void af_packet::arm_rx() {
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_recvmsg_multishot(s, fd_, &rx_msg_, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = bgid_;
  io_uring_sqe_set_data64(s, rt::user_data(&rx_op_));
  rx_armed_ = true;
}

void af_packet::recycle(std::uint16_t bid) {
  io_uring_buf_ring_add(br_, rx_mem_ + std::size_t{bid} * cfg_.rx_buffer_size,
                        static_cast<unsigned>(cfg_.rx_buffer_size), bid, io_uring_buf_ring_mask(cfg_.rx_buffers), 0);
  io_uring_buf_ring_advance(br_, 1);
}

void af_packet::on_rx(const io_uring_cqe& cqe) {
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (cqe.flags & IORING_CQE_F_BUFFER) {
    const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    // The buffer goes back to the kernel after the sink returns, even if it throws.
    struct give_back {
      af_packet* self;
      std::uint16_t bid;
      ~give_back() { self->recycle(bid); }
    } guard{this, bid};
    if (cqe.res > 0 && sink_ != nullptr) {
      void* buf = rx_mem_ + std::size_t{bid} * cfg_.rx_buffer_size;
      io_uring_recvmsg_out* o = io_uring_recvmsg_validate(buf, cqe.res, &rx_msg_);
      if (o == nullptr) {
        ++stats_.rx_truncated;
      } else if (o->flags & MSG_TRUNC) {
        ++stats_.rx_truncated;  // larger than a buffer: dropped
      } else {
        rx_meta meta;
        for (cmsghdr* cm = io_uring_recvmsg_cmsg_firsthdr(o, &rx_msg_); cm != nullptr;
             cm = io_uring_recvmsg_cmsg_nexthdr(o, &rx_msg_, cm)) {
          if (cm->cmsg_level == SOL_PACKET && cm->cmsg_type == PACKET_AUXDATA) {
            tpacket_auxdata aux;
            std::memcpy(&aux, CMSG_DATA(cm), sizeof aux);
            // packet_rcv(): CHECKSUM_PARTIAL skbs are flagged CSUMNOTREADY.
            meta.csum_not_ready = (aux.tp_status & TP_STATUS_CSUMNOTREADY) != 0;
          }
        }
        auto* payload = static_cast<const std::uint8_t*>(io_uring_recvmsg_payload(o, &rx_msg_));
        std::size_t len = io_uring_recvmsg_payload_length(o, cqe.res, &rx_msg_);
        ++stats_.rx_frames;
        stats_.rx_bytes += len;
        if (meta.csum_not_ready) ++stats_.rx_csum_not_ready;
        if (len > stats_.rx_max_frame) stats_.rx_max_frame = len;
        sink_->on_frame(bytes{payload, len}, meta);
      }
    }
  } else if (cqe.res == -ENOBUFS) {
    ++stats_.rx_enobufs;  // the buffer ring ran dry: back-pressure, not failure
  } else if (cqe.res < 0 && cqe.res != -ECANCELED) {
    ++stats_.rx_errors;
  }
  if (!more) {
    rx_armed_ = false;
    // The kernel ended the multishot receive (ENOBUFS, an error, or its own
    // limits): arm a new one unless we are shutting down.
    if (!closing_) arm_rx();
  }
}

void af_packet::on_tx_error(const io_uring_cqe& cqe) {
  // Only failures post a CQE (IOSQE_CQE_SKIP_SUCCESS); the frame is lost.
  if (cqe.res < 0) ++stats_.tx_errors;
}

void af_packet::reclaim_tx() {
  const unsigned head = ring_.sq_head();
  while (tx_q_count_ > 0) {
    const tx_inflight& f = tx_queue_[tx_q_head_];
    if (static_cast<int>(head - f.sqe_seq) <= 0) break;  // not consumed yet
    tx_free_.push_back(f.slot);
    tx_q_head_ = (tx_q_head_ + 1) % tx_queue_.size();
    --tx_q_count_;
  }
}

mut_bytes af_packet::tx_buffer() {
  if (tx_current_ < 0) {
    if (tx_free_.empty()) reclaim_tx();
    if (tx_free_.empty() && tx_pending_) {
      flush();  // queued sends hold every buffer: submit them and take theirs
    }
    if (tx_free_.empty()) {
      ++stats_.tx_ring_full;
      return {};
    }
    tx_current_ = tx_free_.back();
    tx_free_.pop_back();
  }
  return {tx_mem_ + static_cast<std::size_t>(tx_current_) * tx_stride_, std::size_t{mtu_} + eth_header};
}

void af_packet::tx_commit(std::size_t len) {
  if (tx_current_ < 0) throw std::logic_error("af_packet: tx_commit without tx_buffer");
  if (len > std::size_t{mtu_} + eth_header) throw std::length_error("af_packet: frame longer than mtu + 14");
  const auto slot = static_cast<std::uint32_t>(tx_current_);
  tx_current_ = -1;
  io_uring_sqe* s = ring_.sqe();
  const unsigned seq = ring_.sq_tail() - 1;  // this SQE's position in the SQ
  // MSG_DONTWAIT: io_sendmsg_prep() sets REQ_F_NOWAIT, so the send finishes
  // (or fails with a CQE) while the kernel consumes the SQE; no poll retry.
  io_uring_prep_send(s, fd_, tx_mem_ + std::size_t{slot} * tx_stride_, len, MSG_DONTWAIT);
  if (fixed_index_ >= 0) {
    s->ioprio |= IORING_RECVSEND_FIXED_BUF;
    s->buf_index = static_cast<std::uint16_t>(fixed_index_);
  }
  s->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(s, rt::user_data(&tx_op_));
  tx_queue_[(tx_q_head_ + tx_q_count_) % tx_queue_.size()] = {slot, seq};
  ++tx_q_count_;
  tx_pending_ = true;
  ++stats_.tx_frames;
  stats_.tx_bytes += len;
}

void af_packet::flush() {
  if (!tx_pending_) return;
  tx_pending_ = false;
  ring_.submit();
  reclaim_tx();
}

}  // namespace coronet::io
