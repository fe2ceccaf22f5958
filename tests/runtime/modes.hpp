// tests/runtime/modes.hpp - run a scenario in both loop modes, and bound a
// test's wall time (a wake-up bug must fail, not hang).
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include "runtime/scheduler.hpp"

namespace coronet::rt::test {

// Each SUBCASE re-enters the test case, so every scenario runs once per mode.
inline options each_mode() {
  options o;
  SUBCASE("sleeping") { o.busy_poll = false; }
  SUBCASE("busy-poll") { o.busy_poll = true; }
  return o;
}

// SIGALRM's default action ends the process: a loop that never wakes fails.
struct watchdog {
  explicit watchdog(unsigned seconds = 30) { ::alarm(seconds); }
  ~watchdog() { ::alarm(0); }
};

}  // namespace coronet::rt::test
