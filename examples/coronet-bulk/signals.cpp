#include "signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

namespace coronet::bulk {

signal_watch::signal_watch(rt::uring& ring, std::function<void(int)> on_signal)
    : ring_(ring), on_signal_(std::move(on_signal)) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  // Blocked, the signals wait in the signalfd instead of ending the process.
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
    throw std::system_error(errno, std::generic_category(), "sigprocmask");
  fd_ = signalfd(-1, &set, SFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  arm();
}

signal_watch::~signal_watch() {
  if (pending_) {
    // Cancel the read and wait (bounded) for its CQE, so the ring never
    // completes into a destroyed object.
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel64(sqe, rt::user_data(this), 0);
    sqe->user_data = 0;
    for (int i = 0; i < 100 && pending_; ++i) {
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
  pending_ = true;
}

void signal_watch::complete(const io_uring_cqe& cqe) {
  pending_ = false;
  if (cqe.res == static_cast<int>(sizeof info_)) {
    on_signal_(static_cast<int>(info_.ssi_signo));
    arm();
  } else if (cqe.res == -EINTR || cqe.res == -EAGAIN) {
    arm();
  }
}

}  // namespace coronet::bulk
