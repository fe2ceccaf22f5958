// runtime/uring.cpp - ring set-up, opcode probe, reaping and waiting.
#include "runtime/uring.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace coronet::rt {

namespace {

constexpr unsigned reap_batch = 64;

}  // namespace

uring::uring(unsigned entries, bool busy_poll) : busy_poll_(busy_poll) {
  io_uring_params p{};
  // MEASURED.md: spinning on a ring without deferred task work costs ~100 µs
  // per round trip; TASKRUN_FLAG makes the kernel flag pending work in the SQ
  // ring so reap() can skip the syscall when there is none.
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int rc = io_uring_queue_init_params(entries, &ring_, &p);
  if (rc == -EINVAL) {
    std::fprintf(stderr,
                 "coronet: io_uring refused SINGLE_ISSUER|DEFER_TASKRUN (%s); using COOP_TASKRUN|TASKRUN_FLAG\n",
                 std::strerror(-rc));
    defer_taskrun_ = false;
    p = io_uring_params{};
    p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    rc = io_uring_queue_init_params(entries, &ring_, &p);
  }
  if (rc < 0) throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init_params");
  if (!(p.features & IORING_FEAT_EXT_ARG)) {
    io_uring_queue_exit(&ring_);
    throw std::runtime_error("io_uring lacks IORING_FEAT_EXT_ARG (kernel 5.11+ needed for timed waits)");
  }

  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_)) {
    for (int op = 0; op <= probe->last_op && op < 256; ++op) {
      if (io_uring_opcode_supported(probe, op)) supported_.set(static_cast<std::size_t>(op));
    }
    io_uring_free_probe(probe);
  }
  try {
    require({IORING_OP_NOP, IORING_OP_ASYNC_CANCEL}, "coronet's runtime");
  } catch (...) {
    io_uring_queue_exit(&ring_);
    throw;
  }
}

uring::~uring() { io_uring_queue_exit(&ring_); }

io_uring_sqe* uring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (s == nullptr) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
    if (s == nullptr) throw std::runtime_error("io_uring submission queue full");
  }
  // liburing 2.3 hands out SQEs as they were; clear user_data so a forgotten
  // set_data is ignored rather than dispatched to garbage.
  std::memset(s, 0, sizeof(*s));
  return s;
}

unsigned uring::submit() {
  if (io_uring_sq_ready(&ring_) == 0) return 0;
  int rc = io_uring_submit(&ring_);
  if (rc < 0 && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR) {
    throw std::system_error(-rc, std::generic_category(), "io_uring_submit");
  }
  return rc < 0 ? 0 : static_cast<unsigned>(rc);
}

unsigned uring::sq_head() const noexcept {
  return __atomic_load_n(ring_.sq.khead, __ATOMIC_ACQUIRE);
}

unsigned uring::sq_tail() const noexcept { return ring_.sq.sqe_tail; }

unsigned uring::reap() {
  unsigned total = 0;
  bool entered = false;
  for (;;) {
    io_uring_cqe* cqes[reap_batch];
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, reap_batch);
    if (n == 0) {
      // MEASURED.md: with deferred task work, completions wait until we enter
      // the kernel; do it only when the kernel says work is pending.
      unsigned flags = __atomic_load_n(ring_.sq.kflags, __ATOMIC_ACQUIRE);
      if (entered || !(flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))) break;
      entered = true;
      io_uring_get_events(&ring_);
      continue;
    }
    // Copy first and release the CQ slots, so a completion may submit, reap
    // or wait without seeing these entries again.
    io_uring_cqe copy[reap_batch];
    for (unsigned i = 0; i < n; ++i) copy[i] = *cqes[i];
    io_uring_cq_advance(&ring_, n);
    for (unsigned i = 0; i < n; ++i) {
      if (copy[i].user_data == 0) continue;
      reinterpret_cast<completion*>(static_cast<std::uintptr_t>(copy[i].user_data))->complete(copy[i]);
    }
    total += n;
    if (n < reap_batch) break;
  }
  return total;
}

void uring::wait(std::optional<duration> timeout) {
  io_uring_cqe* cqe = nullptr;
  int rc;
  if (timeout) {
    auto ns = timeout->count();
    if (ns < 0) ns = 0;
    __kernel_timespec ts{};
    ts.tv_sec = ns / 1'000'000'000;
    ts.tv_nsec = ns % 1'000'000'000;
    rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  } else {
    rc = io_uring_submit_and_wait(&ring_, 1);
  }
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
    throw std::system_error(-rc, std::generic_category(), "io_uring wait");
  }
}

bool uring::supports(int opcode) const noexcept {
  return opcode >= 0 && opcode < 256 && supported_.test(static_cast<std::size_t>(opcode));
}

void uring::require(std::initializer_list<int> opcodes, const char* who) const {
  std::string missing;
  for (int op : opcodes) {
    if (supports(op)) continue;
    if (!missing.empty()) missing += ", ";
    missing += opcode_name(op);
  }
  if (!missing.empty()) {
    throw std::runtime_error(std::string(who) + " needs io_uring opcodes the kernel lacks: " + missing);
  }
}

const char* uring::opcode_name(int opcode) noexcept {
  switch (opcode) {
    case IORING_OP_NOP: return "NOP";
    case IORING_OP_TIMEOUT: return "TIMEOUT";
    case IORING_OP_ASYNC_CANCEL: return "ASYNC_CANCEL";
    case IORING_OP_SENDMSG: return "SENDMSG";
    case IORING_OP_RECVMSG: return "RECVMSG";
    case IORING_OP_SEND: return "SEND";
    case IORING_OP_RECV: return "RECV";
    case IORING_OP_POLL_ADD: return "POLL_ADD";
    case IORING_OP_READ: return "READ";
    case IORING_OP_WRITE: return "WRITE";
    case IORING_OP_SEND_ZC: return "SEND_ZC";
    default: return "unknown opcode";
  }
}

int uring::register_fixed_buffer(void* base, std::size_t len) {
  constexpr unsigned slots = 64;  // fixed_used_ is a 64-bit map
  if (fixed_slots_ == 0) {
    if (io_uring_register_buffers_sparse(&ring_, slots) < 0) return -1;
    fixed_slots_ = slots;
  }
  for (unsigned i = 0; i < fixed_slots_; ++i) {
    if (fixed_used_ & (std::uint64_t{1} << i)) continue;
    iovec iov{base, len};
    __u64 tag = 0;
    if (io_uring_register_buffers_update_tag(&ring_, i, &iov, &tag, 1) < 0) return -1;
    fixed_used_ |= std::uint64_t{1} << i;
    return static_cast<int>(i);
  }
  return -1;
}

void uring::unregister_fixed_buffer(int index) noexcept {
  if (index < 0 || static_cast<unsigned>(index) >= fixed_slots_) return;
  iovec iov{nullptr, 0};
  __u64 tag = 0;
  io_uring_register_buffers_update_tag(&ring_, static_cast<unsigned>(index), &iov, &tag, 1);
  fixed_used_ &= ~(std::uint64_t{1} << index);
}

}  // namespace coronet::rt
