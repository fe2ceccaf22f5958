// tests/runtime/uring_test.cpp - the io_uring wrapper: dispatch, waits, probes,
// deferred task work reaped without blocking.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "runtime/uring.hpp"

namespace rt = coronet::rt;
using namespace std::chrono_literals;

namespace {
struct recorder final : rt::completion {
  int calls = 0;
  int res = 0;
  void complete(const io_uring_cqe& cqe) override {
    ++calls;
    res = cqe.res;
  }
};
}  // namespace

TEST_CASE("uring: created on this kernel -> defers task work") {
  rt::uring r(64, true);
  CHECK(r.defer_taskrun());
  CHECK(r.fd() >= 0);
}

TEST_CASE("uring: NOP with a completion -> dispatched once; user_data 0 -> ignored") {
  rt::uring r(64, false);
  recorder c;
  io_uring_sqe* s = r.sqe();
  io_uring_prep_nop(s);
  io_uring_sqe_set_data64(s, rt::user_data(&c));
  io_uring_prep_nop(r.sqe());  // user_data 0
  r.wait(std::nullopt);
  unsigned n = 0;
  for (int i = 0; i < 100 && n < 2; ++i) n += r.reap();
  CHECK(n == 2);
  CHECK(c.calls == 1);
  CHECK(c.res == 0);
}

TEST_CASE("uring: wait with a timeout and nothing in flight -> returns") {
  rt::uring r(8, false);
  r.wait(1ms);
  CHECK(r.reap() == 0);
}

TEST_CASE("uring: busy reap of a completion made by another event -> no blocking wait needed") {
  rt::uring r(8, true);
  int p[2];
  REQUIRE(::pipe(p) == 0);
  recorder c;
  char buf[8];
  io_uring_sqe* s = r.sqe();
  io_uring_prep_read(s, p[0], buf, sizeof buf, 0);
  io_uring_sqe_set_data64(s, rt::user_data(&c));
  r.submit();
  CHECK(r.reap() == 0);
  REQUIRE(::write(p[1], "hi", 2) == 2);
  // The read completes as deferred task work; reap() must notice the
  // IORING_SQ_TASKRUN flag and fetch it. Bounded spin, no wait().
  for (long i = 0; i < 100'000'000 && c.calls == 0; ++i) r.reap();
  CHECK(c.calls == 1);
  CHECK(c.res == 2);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_CASE("uring: probe -> NOP supported; require names what is missing") {
  rt::uring r(8, false);
  CHECK(r.supports(IORING_OP_NOP));
  CHECK(r.supports(IORING_OP_RECVMSG));
  CHECK_FALSE(r.supports(250));
  try {
    r.require({IORING_OP_NOP, 250}, "widget");
    FAIL("require did not throw");
  } catch (const std::runtime_error& e) {
    std::string m = e.what();
    CHECK(m.find("widget") != std::string::npos);
    CHECK(m.find("unknown opcode") != std::string::npos);
    CHECK(m.find("NOP") == std::string::npos);
  }
}

TEST_CASE("uring: SQ full -> sqe() submits and hands out another") {
  rt::uring r(4, false);
  recorder c;
  for (int i = 0; i < 20; ++i) {
    io_uring_sqe* s = r.sqe();
    io_uring_prep_nop(s);
    io_uring_sqe_set_data64(s, rt::user_data(&c));
  }
  r.submit();
  for (int i = 0; i < 1000 && c.calls < 20; ++i) {
    r.wait(1ms);
    r.reap();
  }
  CHECK(c.calls == 20);
}
