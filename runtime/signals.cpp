#include "runtime/signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace coronet::rt {

signal_watch::signal_watch(uring& ring, std::function<void(int)> on_signal)
    : ring_(ring), on_signal_(std::move(on_signal)) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  // Blocked signals stay pending for the signalfd instead of killing us.
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) throw std::system_error(errno, std::generic_category(), "sigprocmask");
  fd_ = signalfd(-1, &mask, SFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  arm();
}

signal_watch::~signal_watch() {
  if (armed_) {
    // Withdraw the read and wait (bounded) for its completion, so the ring
    // never hands a CQE to a dead object.
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel64(sqe, rt::user_data(this), 0);
    sqe->user_data = 0;
    for (int i = 0; i < 100 && armed_; ++i) {
      ring_.wait(std::chrono::milliseconds(10));
      ring_.reap();
    }
  }
  if (fd_ >= 0) ::close(fd_);
}

void signal_watch::arm() {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_read(sqe, fd_, &info_, sizeof info_, 0);
  sqe->user_data = rt::user_data(this);
  ring_.submit();
  armed_ = true;
}

void signal_watch::complete(const io_uring_cqe& cqe) {
  armed_ = false;
  if (cqe.res == static_cast<int>(sizeof info_)) {
    on_signal_(static_cast<int>(info_.ssi_signo));
    arm();
  } else if (cqe.res == -EINTR || cqe.res == -EAGAIN) {
    arm();  // interrupted: read again
  }
}

}  // namespace coronet::rt
