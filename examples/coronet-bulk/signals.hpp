// examples/coronet-bulk/signals.hpp - SIGINT and SIGTERM for a scheduler that
// may be asleep in io_uring_enter: the signals are blocked and their signalfd
// is read through the scheduler's ring, so one arrives as a completion.
#pragma once

#include <sys/signalfd.h>

#include <functional>

#include "runtime/uring.hpp"

namespace coronet::bulk {

class signal_watch final : rt::completion {
 public:
  // Destroy before the ring, and after anything that may still reap it.
  signal_watch(rt::uring& ring, std::function<void(int signo)> on_signal);
  ~signal_watch();
  signal_watch(const signal_watch&) = delete;
  signal_watch& operator=(const signal_watch&) = delete;

 private:
  void arm();
  void complete(const io_uring_cqe& cqe) override;

  rt::uring& ring_;
  std::function<void(int)> on_signal_;
  int fd_ = -1;
  signalfd_siginfo info_{};
  bool pending_ = false;  // a read is in flight
};

}  // namespace coronet::bulk
