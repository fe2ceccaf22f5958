// tests/runtime/no_syscall_test.cpp - a busy-polled loop with nothing to
// submit and no completion pending spins without entering the kernel (the
// clock is read through the vDSO); a sleeping one waits in io_uring_enter.
// tests/syscall_probe.hpp catches the first syscall of the thread.
#include <doctest/doctest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "modes.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer.hpp"
#include "syscall_probe.hpp"

namespace rt = coronet::rt;
using namespace std::chrono_literals;
using coronet::test::syscall_probe;

namespace {

// Counts the loop's iterations (every poller is polled once per iteration).
struct spin_counter final : rt::poller {
  std::uint64_t polls = 0;
  void poll(coronet::time_point) override { ++polls; }
  std::optional<coronet::time_point> next_deadline() const override { return std::nullopt; }
};

// Sleeps 1 ms unarmed (the path once through: the sanitizer build checks
// each dynamic type on its first use, and UBSan's check makes a syscall:
// IsAccessibleMemoryRange opens a pipe), then arms
// the probe, sleeps `d`, disarms.
rt::task<> armed_sleep(syscall_probe& probe, coronet::duration d, bool& slept) {
  co_await rt::sleep_for(1ms);
  probe.arm();
  slept = co_await rt::sleep_for(d);
  probe.disarm();
}

}  // namespace

TEST_CASE("syscall_probe: getppid while armed -> caught by number; the call still returns its real result") {
  syscall_probe probe;
  REQUIRE_MESSAGE(probe.ok(), probe.why());
  const long want = ::getppid();
  probe.arm();
  const long got = ::syscall(SYS_getppid);
  probe.disarm();
  CHECK(probe.first() == SYS_getppid);
  CHECK(got == want);
  // Disarmed: nothing more is caught.
  probe.arm();
  probe.disarm();
  (void)::getppid();
  CHECK(probe.first() == -1);
}

TEST_CASE("scheduler: busy-polled, a task sleeping 20 ms -> the loop spins without a system call") {
  rt::test::watchdog dog;
  rt::scheduler s({.busy_poll = true});
  spin_counter spins;
  s.add_poller(&spins);
  syscall_probe probe;
  REQUIRE_MESSAGE(probe.ok(), probe.why());
  bool slept = false;
  s.block_on(armed_sleep(probe, 20ms, slept));
  s.remove_poller(&spins);
  MESSAGE("loop iterations: ", spins.polls, ", first syscall: ", probe.first());
  CHECK(slept);
  CHECK(spins.polls > 100);  // it did spin, rather than wait
  CHECK(probe.first() == -1);
}

// The same wait in the sleeping loop is one io_uring_enter with the timer's
// deadline as its timeout: the probe sees the loop's syscalls when it makes them.
TEST_CASE("scheduler: sleeping, a task sleeping 20 ms -> the loop waits in io_uring_enter") {
  rt::test::watchdog dog;
  rt::scheduler s({.busy_poll = false});
  syscall_probe probe;
  REQUIRE_MESSAGE(probe.ok(), probe.why());
  bool slept = false;
  s.block_on(armed_sleep(probe, 20ms, slept));
  CHECK(slept);
  CHECK(probe.first() == SYS_io_uring_enter);
}
