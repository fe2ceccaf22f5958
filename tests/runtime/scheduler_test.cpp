// tests/runtime/scheduler_test.cpp - spawn, run, stop, block_on, pollers, teardown.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>
#include <vector>

#include "modes.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer.hpp"

namespace rt = coronet::rt;
using namespace std::chrono_literals;
using rt::task;

namespace {

task<> bump(int& n) {
  ++n;
  co_return;
}

task<> yield_n(int id, int times, std::vector<int>& log) {
  for (int i = 0; i < times; ++i) {
    log.push_back(id);
    co_await rt::yield();
  }
}

// Resumes its waiter from poll() once the deadline has passed: only the
// poller's next_deadline() can wake a sleeping loop for it.
class deadline_poller final : public rt::poller {
 public:
  explicit deadline_poller(coronet::time_point at) : at_(at) {}
  void poll(coronet::time_point now) override {
    ++polls;
    if (waiter_ && now >= at_) {
      auto h = std::exchange(waiter_, {});
      rt::scheduler::current()->schedule(h);
    }
  }
  std::optional<coronet::time_point> next_deadline() const override {
    if (!waiter_) return std::nullopt;
    return at_;
  }
  auto wait() {
    struct awaiter {
      deadline_poller* p;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) const noexcept { p->waiter_ = h; }
      void await_resume() const noexcept {}
    };
    return awaiter{this};
  }
  int polls = 0;

 private:
  coronet::time_point at_;
  std::coroutine_handle<> waiter_;
};

}  // namespace

TEST_CASE("scheduler: spawn 10000 tasks -> all run, run() returns when none remain") {
  auto mode = rt::test::each_mode();
  rt::scheduler s(mode);
  int n = 0;
  for (int i = 0; i < 10000; ++i) s.spawn(bump(n));
  CHECK(s.live_tasks() == 10000);
  CHECK(n == 0);  // spawn only queues
  s.run();
  CHECK(n == 10000);
  CHECK(s.live_tasks() == 0);
}

TEST_CASE("scheduler: yield -> ready tasks take turns in spawn order") {
  auto mode = rt::test::each_mode();
  rt::scheduler s(mode);
  std::vector<int> log;
  s.spawn(yield_n(1, 3, log));
  s.spawn(yield_n(2, 3, log));
  s.run();
  CHECK(log == std::vector<int>{1, 2, 1, 2, 1, 2});
}

TEST_CASE("scheduler: stop() -> run returns with tasks left; the next run finishes them") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  int n = 0;
  s.spawn([](rt::scheduler& sch, int& n) -> task<> {
    ++n;
    sch.stop();
    co_await rt::sleep_for(1ms);
    ++n;
  }(s, n));
  s.run();
  CHECK(n == 1);
  CHECK(s.live_tasks() == 1);
  s.run();
  CHECK(n == 2);
  CHECK(s.live_tasks() == 0);
}

TEST_CASE("scheduler: block_on -> returns the value, rethrows, runs spawned tasks meanwhile") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  int n = 0;
  s.spawn(bump(n));
  int v = s.block_on([](int& n) -> task<int> {
    co_await rt::sleep_for(1ms);
    co_return n + 1;
  }(n));
  CHECK(v == 2);
  CHECK_THROWS_AS(s.block_on([]() -> task<> {
    co_await rt::yield();
    throw std::out_of_range("x");
  }()),
                  std::out_of_range);
}

TEST_CASE("scheduler: current() -> the scheduler whose loop runs") {
  rt::scheduler outer;
  rt::scheduler inner;
  CHECK(rt::scheduler::current() == &inner);
  rt::scheduler* seen = nullptr;
  outer.block_on([](rt::scheduler*& seen) -> task<> {
    seen = rt::scheduler::current();
    co_return;
  }(seen));
  CHECK(seen == &outer);
  CHECK(rt::scheduler::current() == &inner);
}

TEST_CASE("scheduler: poller's next_deadline -> wakes the sleeping loop") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  deadline_poller p(s.now() + 2ms);
  s.add_poller(&p);
  bool resumed = false;
  s.spawn([](deadline_poller& p, bool& r) -> task<> {
    co_await p.wait();
    r = true;
  }(p, resumed));
  s.run();
  CHECK(resumed);
  CHECK(p.polls >= 1);
  s.remove_poller(&p);
}

TEST_CASE("scheduler: destroyed with suspended tasks -> frames and timers released") {
  int n = 0;
  {
    rt::scheduler s;
    s.spawn([](int& n) -> task<> {
      ++n;
      co_await rt::sleep_for(1h);
      ++n;
    }(n));
    s.stop();  // run one iteration, then return with the task asleep
    s.run();
  }
  CHECK(n == 1);  // AddressSanitizer checks the frame was freed
}

TEST_CASE("scheduler: spawned task throws -> message on stderr and std::terminate") {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(STDOUT_FILENO);  // keep the test's output clean
    ::close(STDERR_FILENO);
    std::signal(SIGABRT, SIG_DFL);  // doctest's crash handler would report it as a failure
    rt::scheduler s;
    s.spawn([]() -> task<> {
      throw std::runtime_error("escaped");
      co_return;
    }());
    s.run();
    ::_exit(0);  // not reached when terminate works
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGABRT);
}
