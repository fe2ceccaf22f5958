// runtime/signals.hpp - SIGINT and SIGTERM as io_uring completions: the
// signals are blocked and read from a signalfd through the scheduler's ring,
// so a loop asleep in io_uring_enter wakes for them (the examples' shutdown).
#pragma once

#include <sys/signalfd.h>

#include <functional>

#include "runtime/uring.hpp"

namespace coronet::rt {

class signal_watch final : completion {
 public:
  // Must be destroyed before the ring, after anything that may reap it.
  signal_watch(uring& ring, std::function<void(int signo)> on_signal);
  ~signal_watch();
  signal_watch(const signal_watch&) = delete;
  signal_watch& operator=(const signal_watch&) = delete;

 private:
  void arm();
  void complete(const io_uring_cqe& cqe) override;

  uring& ring_;
  std::function<void(int)> on_signal_;
  int fd_ = -1;
  signalfd_siginfo info_{};
  bool armed_ = false;
};

}  // namespace coronet::rt
