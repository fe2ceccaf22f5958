// tests/runtime/cancel_test.cpp - with_timeout and cancellation through stop tokens.
#include <doctest/doctest.h>

#include <stdexcept>

#include "modes.hpp"
#include "runtime/cancel.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer.hpp"

namespace rt = coronet::rt;
using namespace std::chrono_literals;
using rt::task;

namespace {

task<int> slow_value(coronet::duration d, int v) {
  // GCC 12.2 miscompiles co_await inside an if/while condition: bind it first.
  bool slept = co_await rt::sleep_for(d);
  if (!slept) co_return -1;  // cancelled
  co_return v;
}

task<> void_sleep(coronet::duration d) { co_await rt::sleep_for(d); }

task<int> throws_after_yield() {
  co_await rt::yield();
  throw std::runtime_error("inner");
}

}  // namespace

TEST_CASE("with_timeout: operation finishes first -> its value") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  auto v = s.block_on(rt::with_timeout(slow_value(1ms, 9), 1h));
  REQUIRE(v.has_value());
  CHECK(*v == 9);
  auto slept = s.block_on(rt::with_timeout(rt::sleep_for(1ms), 1h));  // optional<bool>
  CHECK(slept == std::optional<bool>(true));
  CHECK(s.block_on(rt::with_timeout(void_sleep(1ms), 1h)) == true);  // void awaitable -> bool
}

TEST_CASE("with_timeout: deadline first -> stop requested, waits for the operation, nullopt") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  bool inner_saw_stop = false;
  auto v = s.block_on(rt::with_timeout(
      [](bool& saw) -> task<int> {
        bool slept = co_await rt::sleep_for(1h);
        saw = !slept;
        co_return 1;
      }(inner_saw_stop),
      2ms));
  CHECK_FALSE(v.has_value());
  CHECK(inner_saw_stop);  // the operation ran to its end before with_timeout returned
  CHECK_FALSE(s.block_on(rt::with_timeout(rt::sleep_for(1h), 1ms)).has_value());
  CHECK(s.block_on(rt::with_timeout(void_sleep(1h), 1ms)) == false);
}

TEST_CASE("with_timeout: caller's token stopped -> operation cancelled through the link") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  std::stop_source caller;
  std::optional<int> out = 0;
  s.spawn([](std::optional<int>& out) -> task<> { out = co_await rt::with_timeout(slow_value(1h, 5), 1h); }(out),
          caller.get_token());
  s.spawn([](std::stop_source& c) -> task<> {
    co_await rt::yield();
    c.request_stop();
  }(caller));
  s.run();
  REQUIRE(out.has_value());
  CHECK(*out == -1);  // the operation's own "cancelled" value; the deadline never passed
}

TEST_CASE("with_timeout: operation throws -> exception propagates") {
  rt::scheduler s;
  CHECK_THROWS_WITH_AS(s.block_on(rt::with_timeout(throws_after_yield(), 1h)), "inner", std::runtime_error);
}

TEST_CASE("this_stop_token: spawned task -> the token given to spawn") {
  rt::scheduler s;
  std::stop_source src;
  bool same = false, stopped = false;
  s.spawn(
      [](std::stop_source& src, bool& same, bool& stopped) -> task<> {
        std::stop_token t = co_await rt::this_stop_token();
        same = (t == src.get_token());
        src.request_stop();
        stopped = t.stop_requested();
      }(src, same, stopped),
      src.get_token());
  s.run();
  CHECK(same);
  CHECK(stopped);
}

TEST_CASE("stop_source: one source cancels many sleepers -> all return false") {
  auto mode = rt::test::each_mode();
  rt::test::watchdog dog;
  rt::scheduler s(mode);
  std::stop_source src;
  int cancelled = 0;
  for (int i = 0; i < 100; ++i) {
    s.spawn([](int& c) -> task<> { c += co_await rt::sleep_for(1h) ? 0 : 1; }(cancelled), src.get_token());
  }
  s.spawn([](std::stop_source& src) -> task<> {
    co_await rt::sleep_for(1ms);
    src.request_stop();
  }(src));
  s.run();
  CHECK(cancelled == 100);
}
