// tests/runtime/task_test.cpp - task<T>: values, exceptions, laziness, depth, tokens.
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "modes.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/task.hpp"

namespace rt = coronet::rt;
using rt::task;

namespace {

task<int> forty_two() { co_return 42; }
task<std::string> concat(std::string a, std::string b) { co_return a + b; }
task<int> add_awaited() { co_return co_await forty_two() + co_await forty_two(); }
task<> set_flag(bool& f) {
  f = true;
  co_return;
}
task<int> throws_runtime() {
  throw std::runtime_error("boom");
  co_return 0;
}
task<int> catches() {
  try {
    co_return co_await throws_runtime();
  } catch (const std::runtime_error& e) {
    co_return std::string(e.what()) == "boom" ? 7 : -1;
  }
}
task<int> depth(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await depth(n - 1);
}
task<std::unique_ptr<int>> move_only() { co_return std::make_unique<int>(5); }
task<std::stop_token> token_of_child() { co_return co_await rt::this_stop_token(); }
task<bool> parent_token_matches_child() {
  std::stop_token mine = co_await rt::this_stop_token();
  std::stop_token childs = co_await token_of_child();
  co_return mine == childs;
}

}  // namespace

TEST_CASE("task: co_return value -> awaiter receives it") {
  auto mode = rt::test::each_mode();
  rt::scheduler s(mode);
  CHECK(s.block_on(forty_two()) == 42);
  CHECK(s.block_on(add_awaited()) == 84);
  CHECK(s.block_on(concat("co", "ro")) == "coro");
  CHECK(*s.block_on(move_only()) == 5);
}

TEST_CASE("task<void>: runs its body when awaited") {
  rt::scheduler s;
  bool f = false;
  s.block_on(set_flag(f));
  CHECK(f);
}

TEST_CASE("task: lazy -> nothing runs until awaited, destroying unstarted frees it") {
  bool f = false;
  {
    auto t = set_flag(f);
    CHECK(t.valid());
    CHECK_FALSE(t.done());
  }
  CHECK_FALSE(f);
}

TEST_CASE("task: exception in body -> rethrown from co_await") {
  rt::scheduler s;
  CHECK(s.block_on(catches()) == 7);
  CHECK_THROWS_WITH_AS(s.block_on(throws_runtime()), "boom", std::runtime_error);
}

TEST_CASE("task: 100000 nested awaits -> no stack overflow (symmetric transfer)") {
  auto mode = rt::test::each_mode();
  rt::scheduler s(mode);
  CHECK(s.block_on(depth(100000)) == 100000);
}

TEST_CASE("task: move -> source becomes empty; awaiting empty throws logic_error") {
  rt::scheduler s;
  auto a = forty_two();
  auto b = std::move(a);
  CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  CHECK(b.valid());
  CHECK(s.block_on(std::move(b)) == 42);
  CHECK_THROWS_AS(s.block_on(task<int>{}), std::logic_error);
}

TEST_CASE("task: co_awaited child -> inherits the awaiter's stop token") {
  rt::scheduler s;
  std::stop_source src;
  bool same = false;
  s.spawn([](bool& out) -> task<> { out = co_await parent_token_matches_child(); }(same), src.get_token());
  s.run();
  CHECK(same);
}

TEST_CASE("task: with_stop_token -> child keeps its own token") {
  rt::scheduler s;
  std::stop_source parent, own;
  bool got_own = false;
  s.spawn(
      [](std::stop_token expect, bool& out) -> task<> {
        std::stop_token t = co_await token_of_child().with_stop_token(expect);
        out = (t == expect);
      }(own.get_token(), got_own),
      parent.get_token());
  s.run();
  CHECK(got_own);
}
