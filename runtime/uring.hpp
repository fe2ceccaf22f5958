// runtime/uring.hpp - one io_uring, owned by one scheduler on one thread.
//
// Every SQE carries the address of a `completion` in user_data (0: ignore the
// CQE); reap() hands each CQE to its completion. The ring is created with
// IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG
// (MEASURED.md: a ring that will be spun on must defer task work, or each
// receive waits for a timer interrupt); kernels that refuse that get
// COOP_TASKRUN | TASKRUN_FLAG, with one line on stderr saying so.
// With deferred task work, completions are only posted when this thread enters
// the kernel with GETEVENTS: reap() does so only when the kernel flags pending
// work (IORING_SQ_TASKRUN), so an idle spin costs no syscall.
#pragma once

#include <liburing.h>

#include <bitset>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "proto/types.hpp"

namespace coronet::rt {

class completion {
 public:
  virtual void complete(const io_uring_cqe& cqe) = 0;

 protected:
  ~completion() = default;
};

// user_data for an SQE whose completion is `c`.
inline std::uint64_t user_data(completion* c) noexcept { return reinterpret_cast<std::uintptr_t>(c); }

class uring {
 public:
  // Throws std::system_error when the ring cannot be created, and
  // std::runtime_error naming any missing opcode the runtime relies on.
  uring(unsigned entries, bool busy_poll);
  ~uring();
  uring(const uring&) = delete;
  uring& operator=(const uring&) = delete;

  io_uring* get() noexcept { return &ring_; }
  int fd() const noexcept { return ring_.ring_fd; }  // to wait on the ring from elsewhere (epoll, Asio)
  bool busy_poll() const noexcept { return busy_poll_; }
  // True when the ring defers task work (DEFER_TASKRUN); false on the fallback.
  bool defer_taskrun() const noexcept { return defer_taskrun_; }

  // A zeroed SQE; submits first when the SQ is full. Throws if still none.
  io_uring_sqe* sqe();
  // Submits queued SQEs (no syscall when none are queued). Returns how many.
  unsigned submit();
  // Monotonic count of SQEs the kernel has consumed (the SQ head): an SQE
  // prepared when sq_tail() was t has been issued once sq_head() - t > 0.
  unsigned sq_head() const noexcept;
  unsigned sq_tail() const noexcept;  // SQEs handed out so far (wraps)

  // Dispatches every CQE available now to its completion; enters the kernel
  // only when it flags deferred work or a CQ overflow. Returns CQEs reaped.
  unsigned reap();
  // Submits, then sleeps until one CQE is available or `timeout` passes
  // (nullopt: no limit). Does not reap.
  void wait(std::optional<duration> timeout);

  bool supports(int opcode) const noexcept;
  // Throws std::runtime_error("<who> needs io_uring opcodes the kernel lacks: X, Y").
  void require(std::initializer_list<int> opcodes, const char* who) const;
  static const char* opcode_name(int opcode) noexcept;

  // A buffer-group id unique within this ring (for provided-buffer rings).
  std::uint16_t allocate_buffer_group() noexcept { return next_bgid_++; }
  // Registers [base, base+len) as a fixed buffer; returns its index (for
  // IORING_RECVSEND_FIXED_BUF sends), or -1 when the kernel refused it.
  int register_fixed_buffer(void* base, std::size_t len);
  void unregister_fixed_buffer(int index) noexcept;

 private:
  io_uring ring_{};
  bool busy_poll_;
  bool defer_taskrun_ = true;
  std::bitset<256> supported_;
  std::uint16_t next_bgid_ = 1;
  unsigned fixed_slots_ = 0;     // size of the sparse fixed-buffer table, 0 until first use
  std::uint64_t fixed_used_ = 0; // bitmap of used slots
};

}  // namespace coronet::rt
