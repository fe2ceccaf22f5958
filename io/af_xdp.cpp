// io/af_xdp.cpp - AF_XDP sockets on a shared UMEM and coronet's XDP program on a
// bpf_link: start-up, teardown, description and counters (see io/af_xdp.hpp;
// the data path is io/af_xdp_rings.cpp, the shared state io/af_xdp_impl.hpp).
#include "io/af_xdp.hpp"
#include "io/af_xdp_impl.hpp"

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace coronet::io {

const char* to_string(xdp_bind b) noexcept {
  switch (b) {
    case xdp_bind::automatic: return "auto";
    case xdp_bind::zerocopy: return "zerocopy";
    case xdp_bind::copy: return "copy";
  }
  return "?";
}

using detail::fail;
using detail::last_lib_line;
using af_xdp_detail::eth_header;

namespace {

constexpr std::uint32_t max_queues = 1024;    // coronet_xsks' max_entries
constexpr std::chrono::milliseconds bind_busy_wait{2000};  // see bind_socket
bool power_of_two(unsigned v) { return v != 0 && (v & (v - 1)) == 0; }

// RX queues in use: ETHTOOL_GCHANNELS answers for the caller's network
// namespace (rx-only plus combined channels); sysfs is the fallback for
// drivers without get_channels, and is right only where /sys was mounted in
// this namespace (ip netns exec does that; a bare setns does not).
// The interface's RX (rx) or TX (!rx) queues: ethtool's channels (their own
// plus the combined ones), else the queues sysfs lists, else 1.
int count_queues(const std::string& ifname, bool rx) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s >= 0) {
    ethtool_channels ch{};
    ch.cmd = ETHTOOL_GCHANNELS;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char*>(&ch);
    const int rc = ::ioctl(s, SIOCETHTOOL, &ifr);
    ::close(s);
    const std::uint32_t n = (rx ? ch.rx_count : ch.tx_count) + ch.combined_count;
    if (rc == 0 && n > 0) return static_cast<int>(n);
  }
  std::error_code ec;
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/net/" + ifname + "/queues", ec)) {
    if (e.path().filename().string().rfind(rx ? "rx-" : "tx-", 0) == 0) ++n;
  }
  return ec ? 1 : std::max(n, 1);
}

}  // namespace

af_xdp::impl::~impl() {
  closing = true;
  // Detach first, so the kernel stops steering coronet's frames to sockets
  // that are about to go; then drain the io_uring operations that point here.
  if (program) program->detach();
  bool armed = false;
  for (auto& q : queues) {
    if (!q->poll_armed) continue;
    io_uring_sqe* s = ring.sqe();
    io_uring_prep_cancel64(s, rt::user_data(&q->poll), 0);  // its own CQE has user_data 0
    armed = true;
  }
  ring.submit();
  for (int i = 0; i < 2000 && armed; ++i) {
    ring.reap();
    armed = std::any_of(queues.begin(), queues.end(), [](const auto& q) { return q->poll_armed; });
    if (armed) ring.wait(std::chrono::milliseconds(1));
  }
  ring.reap();  // failed kicks post their CQEs during submission
  for (auto& q : queues) {
    if (q->xsk != nullptr) xsk_socket__delete(q->xsk);
  }
  if (umem != nullptr) xsk_umem__delete(umem);
  if (area != nullptr) ::munmap(area, area_bytes);
}

// --- start-up ----------------------------------------------------------------

void af_xdp::impl::find_interface() {
  const af_xdp_config& c = dev.cfg_;
  ifindex = static_cast<int>(::if_nametoindex(c.ifname.c_str()));
  if (ifindex == 0) fail("interface " + c.ifname + " not found");
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail("socket", errno);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, c.ifname.c_str(), IFNAMSIZ - 1);
  int rc = ::ioctl(s, SIOCGIFHWADDR, &ifr);
  if (rc == 0) std::memcpy(dev.mac_.b.data(), ifr.ifr_hwaddr.sa_data, 6);
  int err = errno;
  if (rc == 0) rc = ::ioctl(s, SIOCGIFMTU, &ifr);
  if (rc != 0) err = errno;
  ::close(s);
  if (rc != 0) fail("reading " + c.ifname + "'s address and MTU", err);
  // A frame must fit one UMEM frame after the kernel's XDP headroom (copy
  // mode copies into the frame at XDP_PACKET_HEADROOM); no multi-buffer.
  const int room = static_cast<int>(c.frame_size) - 256 - static_cast<int>(eth_header);
  if (ifr.ifr_mtu > room) {
    fail(c.ifname + " has MTU " + std::to_string(ifr.ifr_mtu) + "; AF_XDP frames of " +
         std::to_string(c.frame_size) + " bytes hold at most " + std::to_string(room) +
         " (jumbo frames would need multi-buffer AF_XDP)");
  }
  dev.mtu_ = static_cast<std::uint16_t>(std::max(ifr.ifr_mtu, 68));
}

void af_xdp::impl::create_umem(unsigned nqueues) {
  const af_xdp_config& c = dev.cfg_;
  // Frames: ring_size per queue for RX (each fill ring holds all of its
  // queue's frames), then ring_size for TX (never more in flight than the TX
  // ring holds).
  const std::size_t frames = std::size_t{c.ring_size} * (nqueues + 1);
  area_bytes = frames * c.frame_size;
  area = ::mmap(nullptr, area_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (area == MAP_FAILED) {
    area = nullptr;
    fail("mmap of " + std::to_string(area_bytes >> 20) + " MiB of UMEM", errno);
  }
  queues.push_back(std::make_unique<queue>());
  xsk_umem_config uc{};
  uc.fill_size = c.ring_size;
  uc.comp_size = c.ring_size;
  uc.frame_size = c.frame_size;
  uc.frame_headroom = 0;
  uc.flags = 0;
  int rc = xsk_umem__create(&umem, area, area_bytes, &queues[0]->fill, &queues[0]->comp, &uc);
  if (rc != 0) {
    if (rc == -EAFNOSUPPORT) fail("this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)");
    // xdp_umem_account_pages(): ENOBUFS when the pages exceed RLIMIT_MEMLOCK
    // (without CAP_IPC_LOCK); ENOMEM when pinning them fails.
    if (rc == -ENOBUFS || rc == -ENOMEM) {
      fail("registering " + std::to_string(area_bytes >> 20) +
               " MiB of UMEM failed: it needs CAP_IPC_LOCK or an RLIMIT_MEMLOCK (ulimit -l) of at least that",
           -rc);
    }
    if (rc == -EPERM || rc == -EACCES) fail("an AF_XDP socket needs CAP_NET_RAW (run as root)", -rc);
    fail("xsk_umem__create" + last_lib_line(), -rc);
  }
  tx_free.reserve(c.ring_size);
  const std::uint64_t tx_base = std::uint64_t{nqueues} * c.ring_size;
  for (std::uint64_t i = c.ring_size; i-- > 0;) tx_free.push_back((tx_base + i) * c.frame_size);
}

void af_xdp::impl::create_socket(int qid, bool first) {
  const af_xdp_config& c = dev.cfg_;
  if (!first) queues.push_back(std::make_unique<queue>());
  queue& q = *queues.back();
  q.owner = this;
  q.id = qid;
  q.poll.q = &q;
  q.tx_kick.q = &q;
  q.tx_kick.tx = true;
  q.rx_kick.q = &q;
  q.rx_kick.tx = false;

  // Zero-copy first unless told otherwise; generic XDP only ever copies.
  std::vector<xdp_bind> tries;
  if (c.bind == xdp_bind::automatic) {
    if (dev.mode_ == xdp_mode::native) tries.push_back(xdp_bind::zerocopy);
    tries.push_back(xdp_bind::copy);
  } else {
    tries.push_back(c.bind);
  }
  // All sockets share the UMEM, so they bind the same way as the first.
  if (!first) tries = {dev.bind_};
  std::string refused;
  for (xdp_bind b : tries) {
    xsk_socket_config sc{};
    sc.rx_size = c.ring_size;
    // Only the first socket transmits (af_xdp_rings.cpp); the others are
    // RX-only: a TX ring there would be memory never used, and on a queue id
    // at or above the interface's TX queue count (which may be below its RX
    // count) there is no TX queue for it to send through.
    sc.tx_size = first ? c.ring_size : 0;
    sc.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // coronet's own program (io/xdp_program)
    sc.bind_flags = static_cast<std::uint16_t>(XDP_USE_NEED_WAKEUP | (b == xdp_bind::zerocopy ? XDP_ZEROCOPY : XDP_COPY));
    int rc = bind_socket(q, qid, sc);
    if (rc == 0) {
      if (first) {
        dev.bind_ = b;
        if (!refused.empty()) bind_notes = "copy mode (zero-copy refused: " + refused + ")";
        else bind_notes = b == xdp_bind::zerocopy ? "zero-copy" : "copy mode";
      }
      break;
    }
    q.xsk = nullptr;
    if (rc == -EPERM || rc == -EACCES) fail("an AF_XDP socket needs CAP_NET_RAW (run as root)");
    if (rc == -EAFNOSUPPORT) fail("this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)");
    refused = std::strerror(-rc);
    if (b == xdp_bind::zerocopy && (rc == -EOPNOTSUPP || rc == -EINVAL) && tries.size() > 1) continue;
    // xp_assign_dev(): zero-copy is the driver's to give (ndo_bpf with
    // XDP_SETUP_XSK_POOL, ndo_xsk_wakeup), whatever mode the program runs in.
    if (b == xdp_bind::zerocopy && (rc == -EOPNOTSUPP || rc == -EINVAL)) {
      fail(c.ifname + "'s driver refused zero-copy AF_XDP (" + refused +
           "; veth never offers it): use --xdp-bind copy or auto" +
           (dev.mode_ == xdp_mode::generic ? " (the program runs in generic mode, which copies every frame anyway)"
                                           : ""));
    }
    if (rc == -EBUSY) {
      fail("another AF_XDP socket is bound to " + c.ifname + " queue " + std::to_string(qid) +
               " (a running coronet, or another AF_XDP program; still so after " +
               std::to_string(bind_busy_wait.count()) + " ms)",
           -rc);
    }
    fail("binding an AF_XDP socket to " + c.ifname + " queue " + std::to_string(qid) +
             (b == xdp_bind::zerocopy ? " in zero-copy mode" : " in copy mode") + last_lib_line(),
         -rc);
  }
  q.fd = xsk_socket__fd(q.xsk);

  // This queue's RX frames wait in rx_free, the first at the top; fill_min
  // of them go into the fill ring now.
  const std::uint64_t base = std::uint64_t(queues.size() - 1) * c.ring_size;
  q.rx_free.reserve(c.ring_size);
  for (std::uint64_t i = c.ring_size; i-- > 0;) q.rx_free.push_back((base + i) * c.frame_size);
  q.fill_target = c.fill_min == 0 ? c.ring_size : std::min(c.fill_min, c.ring_size);
  refill(q, 0);

  const std::uint32_t key = static_cast<std::uint32_t>(qid);
  if (bpf_map_update_elem(program->xsk_map_fd(), &key, &q.fd, BPF_ANY) != 0) {
    fail("adding the socket of queue " + std::to_string(qid) + " to the XDP program's map", errno);
  }
}

// The kernel frees a closed socket's hold on its queue in a work item after
// the close (xp_put_pool -> xp_release_deferred -> xp_clear_dev), so a
// coronet started right after another one exited can find the queue still
// taken (EBUSY from xsk_bind). That clears within milliseconds; a queue still
// busy after bind_busy_wait belongs to a live socket.
int af_xdp::impl::bind_socket(queue& q, int qid, const xsk_socket_config& sc) {
  const auto give_up = std::chrono::steady_clock::now() + bind_busy_wait;
  for (;;) {
    int rc = xsk_socket__create_shared(&q.xsk, dev.cfg_.ifname.c_str(), static_cast<std::uint32_t>(qid), umem, &q.rx,
                                       sc.tx_size != 0 ? &q.tx : nullptr, &q.fill, &q.comp, &sc);
    if (rc != -EBUSY || std::chrono::steady_clock::now() >= give_up) return rc;
    q.xsk = nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// --- af_xdp ------------------------------------------------------------------

af_xdp::af_xdp(rt::uring& ring, const af_xdp_config& c) : cfg_(c) {
  if (!power_of_two(cfg_.ring_size) || cfg_.ring_size < 64 || cfg_.ring_size > 16384) {
    throw std::invalid_argument("af_xdp: ring_size must be a power of two, 64 .. 16384");
  }
  if (cfg_.frame_size != 2048 && cfg_.frame_size != 4096) {
    throw std::invalid_argument("af_xdp: frame_size must be 2048 or 4096");
  }
  if (cfg_.addr.value == 0) throw std::invalid_argument("af_xdp: no IPv4 address for the XDP program to steer");
  ring.require({IORING_OP_POLL_ADD, IORING_OP_SEND, IORING_OP_RECV, IORING_OP_ASYNC_CANCEL}, "af_xdp");
  p_ = std::make_unique<impl>(*this, ring);
  impl& p = *p_;
  detail::lib_log_capture capture;
  // Each step undoes itself through impl's destructor if a later one throws.
  p.find_interface();
  const int nq = count_queues(cfg_.ifname, true);
  if (cfg_.queue >= 0 && cfg_.queue >= nq) {
    throw std::runtime_error("af_xdp: " + cfg_.ifname + " has " + std::to_string(nq) + " RX queue" +
                             (nq == 1 ? "" : "s") + " (0.." + std::to_string(nq - 1) + "); there is no queue " +
                             std::to_string(cfg_.queue));
  }
  if (nq > static_cast<int>(max_queues)) fail(cfg_.ifname + " has more RX queues than coronet's map holds");
  std::vector<int> qids;
  if (cfg_.queue >= 0) qids = {cfg_.queue};
  else for (int i = 0; i < nq; ++i) qids.push_back(i);
  // The first socket transmits too, through the TX queue of its own id
  // (__xsk_generic_xmit -> __dev_direct_xmit): that queue must exist, which
  // 6.18's xsk_bind does not check for copy mode, so coronet does.
  if (const int ntx = count_queues(cfg_.ifname, false); qids.front() >= ntx) {
    throw std::runtime_error("af_xdp: " + cfg_.ifname + " has " + std::to_string(ntx) + " TX queue" +
                             (ntx == 1 ? "" : "s") + " (0.." + std::to_string(ntx - 1) + "); queue " +
                             std::to_string(qids.front()) +
                             " cannot transmit: choose a --queue below that, or add TX queues (ethtool -L)");
  }

  p.program = std::make_unique<xdp_program>(cfg_.ifname, p.ifindex, cfg_.addr);
  // The mode decides whether zero-copy is worth trying, so attach first;
  // frames for queues without a socket yet pass to the kernel meanwhile.
  p.program->attach(cfg_.mode);
  mode_ = p.program->mode();
  p.create_umem(static_cast<unsigned>(qids.size()));
  for (std::size_t i = 0; i < qids.size(); ++i) p.create_socket(qids[i], i == 0);
}

// The rings, sockets and program go before the members impl reads.
af_xdp::~af_xdp() { p_.reset(); }

std::vector<int> af_xdp::queues() const {
  std::vector<int> v;
  for (const auto& q : p_->queues) v.push_back(q->id);
  return v;
}

std::string af_xdp::describe() const {
  std::string qs;
  for (const auto& q : p_->queues) qs += (qs.empty() ? "" : ",") + std::to_string(q->id);
  return "af_xdp on " + cfg_.ifname + " queue" + (p_->queues.size() == 1 ? " " : "s ") + qs + ": " + p_->program->mode_notes() + ", " + p_->bind_notes +
         ", need_wakeup, " + (cfg_.busy_poll ? "busy-polled rings" : "io_uring poll on the sockets") + ", mtu " +
         std::to_string(mtu_);
}

void af_xdp::start(rx_sink& sink) {
  if (p_->sink != nullptr) throw std::logic_error("af_xdp: start called twice");
  p_->sink = &sink;
  if (!cfg_.busy_poll) {
    for (auto& q : p_->queues) p_->arm_poll(*q);
    p_->ring.submit();
  }
}

void af_xdp::for_each_extra(const extra_fn& fn) const {
  const impl& p = *p_;
  fn("XdpTxWakeups", xstats_.tx_wakeups);
  fn("XdpRxWakeups", xstats_.rx_wakeups);
  fn("XdpPollWakeups", xstats_.poll_wakeups);
  fn("XdpTxRetries", xstats_.tx_retries);
  fn("XdpFillGrowths", xstats_.fill_growths);
  std::uint64_t target = 0;
  for (const auto& q : p.queues) target += q->fill_target;
  fn("XdpFillTarget", target);
  // Which sockets the frames came through (as ethtool -S's per-queue rx
  // counters): with several queues, how RSS or the peer's TX queues spread them.
  for (const auto& q : p.queues) fn("XdpRxFramesQ" + std::to_string(q->id), q->rx_frames);
  // The kernel's own view of each socket (getsockopt XDP_STATISTICS).
  xdp_statistics sum{};
  for (const auto& q : p.queues) {
    xdp_statistics s{};
    socklen_t len = sizeof s;
    if (::getsockopt(q->fd, SOL_XDP, XDP_STATISTICS, &s, &len) != 0) continue;
    sum.rx_dropped += s.rx_dropped;
    sum.rx_invalid_descs += s.rx_invalid_descs;
    sum.tx_invalid_descs += s.tx_invalid_descs;
    sum.rx_ring_full += s.rx_ring_full;
    sum.rx_fill_ring_empty_descs += s.rx_fill_ring_empty_descs;
    sum.tx_ring_empty_descs += s.tx_ring_empty_descs;
  }
  fn("XskRxDropped", sum.rx_dropped);
  fn("XskRxInvalidDescs", sum.rx_invalid_descs);
  fn("XskTxInvalidDescs", sum.tx_invalid_descs);
  fn("XskRxRingFull", sum.rx_ring_full);
  fn("XskRxFillRingEmpty", sum.rx_fill_ring_empty_descs);
  fn("XskTxRingEmpty", sum.tx_ring_empty_descs);
  p.program->for_each_counter(fn);
}

}  // namespace coronet::io
