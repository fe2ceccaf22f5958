// tests/syscall_probe.hpp - catches the first system call one thread makes
// while armed, for tests of "makes no syscall" claims (a busy-polled loop with
// nothing to kick).
//
// Linux syscall user dispatch (PR_SET_SYSCALL_USER_DISPATCH, 5.11+, x86-64):
// with the selector byte at SYSCALL_DISPATCH_FILTER_BLOCK, a syscall this
// thread makes does not run; the kernel raises SIGSYS (si_code
// SYS_USER_DISPATCH, si_syscall its number) instead. The handler records the
// number, sets the selector back to ALLOW and makes the call itself with the
// registers the code under test left, so that code gets its real result and
// runs on normally; its own return (rt_sigreturn) is then allowed too. Only
// the first call of each armed window is seen. vDSO calls (clock_gettime)
// make no syscall and are not seen. arm() and disarm() are plain stores.
//
//   syscall_probe probe;          // SIGSYS handler in, dispatch on (allowing)
//   probe.arm();
//   ... code that must not enter the kernel ...
//   probe.disarm();
//   CHECK(probe.first() == -1);   // else the number of the first syscall
#pragma once

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#endif
#ifndef PR_SYS_DISPATCH_OFF
#define PR_SYS_DISPATCH_OFF 0
#endif
#ifndef PR_SYS_DISPATCH_ON
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYSCALL_DISPATCH_FILTER_ALLOW
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#endif
#ifndef SYSCALL_DISPATCH_FILTER_BLOCK
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif

namespace coronet::test {

class syscall_probe {
 public:
  // Installs the SIGSYS handler and turns dispatch on for this thread, with
  // the selector allowing. ok() is false (and why() says why) where the
  // kernel or the architecture lacks it.
  syscall_probe() {
#if defined(__x86_64__)
    struct sigaction sa {};
    sa.sa_sigaction = &on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGSYS, &sa, &old_) != 0) {
      why_ = std::string("sigaction(SIGSYS): ") + std::strerror(errno);
      return;
    }
    state().selector = SYSCALL_DISPATCH_FILTER_ALLOW;
    state().first = -1;
    // No region is exempt (offset 0, length 0): the selector alone decides.
    if (::prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0L, 0L, &state().selector) != 0) {
      why_ = std::string("prctl(PR_SET_SYSCALL_USER_DISPATCH): ") + std::strerror(errno) + " (Linux 5.11+)";
      ::sigaction(SIGSYS, &old_, nullptr);
      return;
    }
    ok_ = true;
#else
    why_ = "syscall user dispatch is used on x86-64 only";
#endif
  }
  ~syscall_probe() {
    if (!ok_) return;
    disarm();
    ::prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0L, 0L, 0L);
    ::sigaction(SIGSYS, &old_, nullptr);
  }
  syscall_probe(const syscall_probe&) = delete;
  syscall_probe& operator=(const syscall_probe&) = delete;

  bool ok() const noexcept { return ok_; }
  const std::string& why() const noexcept { return why_; }

  // From here on the thread's next syscall is caught (once).
  void arm() noexcept {
    state().first = -1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    state().selector = SYSCALL_DISPATCH_FILTER_BLOCK;
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  void disarm() noexcept {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    state().selector = SYSCALL_DISPATCH_FILTER_ALLOW;
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  // The number of the first syscall made while armed, -1 if none.
  long first() const noexcept { return state().first; }

 private:
  struct shared {
    volatile char selector = SYSCALL_DISPATCH_FILTER_ALLOW;
    volatile long first = -1;
  };
  static shared& state() noexcept {
    static shared s;
    return s;
  }

#if defined(__x86_64__)
  static void on_sigsys(int, siginfo_t* info, void* ctx) {
    if (info->si_code != SYS_USER_DISPATCH) return;
    shared& s = state();
    s.selector = SYSCALL_DISPATCH_FILTER_ALLOW;  // the rest of the window, and our own calls, run
    if (s.first == -1) s.first = info->si_syscall;
    // Make the call the code under test asked for (System V syscall ABI:
    // rdi, rsi, rdx, r10, r8, r9) and hand back the kernel's raw result.
    auto* uc = static_cast<ucontext_t*>(ctx);
    greg_t* r = uc->uc_mcontext.gregs;
    const int saved_errno = errno;
    long rc = ::syscall(info->si_syscall, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]);
    if (rc == -1) rc = -errno;
    errno = saved_errno;
    r[REG_RAX] = rc;
  }
#endif

  bool ok_ = false;
  std::string why_;
  struct sigaction old_ {};
};

}  // namespace coronet::test
