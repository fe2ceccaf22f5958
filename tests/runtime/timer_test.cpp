// tests/runtime/timer_test.cpp - sleeps fire in deadline order, honour stop tokens.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "modes.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer.hpp"
#include "runtime/timer_queue.hpp"

namespace rt = coronet::rt;
using namespace std::chrono_literals;
using rt::task;

namespace {

task<> sleeper(int id, coronet::duration d, std::vector<int>& log) {
  bool done = co_await rt::sleep_for(d);
  CHECK(done);
  log.push_back(id);
}

struct test_node final : rt::timer_node {
  int id = 0;
  void fire() override {}
};

}  // namespace

TEST_CASE("sleep_for: three sleepers -> wake in deadline order") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  std::vector<int> log;
  s.spawn(sleeper(5, 5ms, log));
  s.spawn(sleeper(1, 1ms, log));
  s.spawn(sleeper(3, 3ms, log));
  s.run();
  CHECK(log == std::vector<int>{1, 3, 5});
}

TEST_CASE("sleep_until: equal deadlines -> wake in arming order") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  std::vector<int> log;
  auto at = s.now() + 1ms;
  for (int i = 0; i < 5; ++i) {
    s.spawn([](int i, coronet::time_point at, std::vector<int>& log) -> task<> {
      co_await rt::sleep_until(at);
      log.push_back(i);
    }(i, at, log));
  }
  s.run();
  CHECK(log == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("sleep_for: deadline passes -> returns true, clock at or past the deadline") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  auto start = s.now();
  bool ok = s.block_on([]() -> task<bool> { co_return co_await rt::sleep_for(2ms); }());
  CHECK(ok);
  CHECK(s.now() - start >= 2ms);
}

TEST_CASE("sleep_for: stop requested while asleep -> returns false early") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  std::stop_source src;
  int result = -1;
  s.spawn([](int& r) -> task<> { r = co_await rt::sleep_for(1h) ? 1 : 0; }(result), src.get_token());
  s.spawn([](std::stop_source& src) -> task<> {
    co_await rt::sleep_for(1ms);
    src.request_stop();
  }(src));
  s.run();
  CHECK(result == 0);
}

TEST_CASE("sleep_for: token already stopped -> returns false without suspending") {
  rt::scheduler s;
  std::stop_source src;
  src.request_stop();
  int result = -1;
  s.spawn([](int& r) -> task<> { r = co_await rt::sleep_for(1h) ? 1 : 0; }(result), src.get_token());
  s.run();
  CHECK(result == 0);
}

TEST_CASE("timer_queue: random pushes and erases -> pops in (deadline, arming) order") {
  std::mt19937 rng(7);
  std::vector<test_node> nodes(500);
  rt::timer_queue q;
  for (int i = 0; i < 500; ++i) {
    nodes[i].id = i;
    q.push(nodes[i], coronet::time_point{coronet::duration{rng() % 50}});
  }
  for (int i = 0; i < 500; i += 3) q.erase(nodes[i]);
  q.erase(nodes[0]);  // erasing twice is a no-op
  std::vector<test_node*> popped;
  while (auto* n = q.pop_due(coronet::time_point::max())) popped.push_back(static_cast<test_node*>(n));
  CHECK(popped.size() == 500 - 167);
  for (std::size_t i = 1; i < popped.size(); ++i) {
    auto a = popped[i - 1], b = popped[i];
    CHECK((a->deadline() < b->deadline() || (a->deadline() == b->deadline() && a->id < b->id)));
  }
  CHECK(q.empty());
}
