#include <doctest/doctest.h>

#include "proto/tcp/isn.hpp"
#include "tcp_rig.hpp"

using namespace coronet;
using namespace coronet::tcp;
using coronet::test::at;
using namespace std::chrono_literals;

namespace {
const four_tuple t1{make_ipv4(198, 18, 0, 1), 40000, make_ipv4(198, 18, 0, 2), 80};
}

TEST_CASE("isn: different 4-tuples -> different ISNs at the same time") {
  isn_generator g(42);
  four_tuple t2 = t1;
  t2.local_port = 40001;
  four_tuple t3 = t1;
  t3.remote_addr = make_ipv4(198, 18, 0, 3);
  CHECK(g(t1, at(5s)) != g(t2, at(5s)));
  CHECK(g(t1, at(5s)) != g(t3, at(5s)));
}

TEST_CASE("isn: different seeds -> different ISNs for one tuple") {
  CHECK(isn_generator(1)(t1, at(0s)) != isn_generator(2)(t1, at(0s)));
  CHECK(isn_generator(1)(t1, at(0s)) == isn_generator(1)(t1, at(0s)));
}

TEST_CASE("isn: advances with time by one per 4 microseconds (RFC 6528 M)") {
  isn_generator g(9);
  CHECK(g(t1, at(4us)) - g(t1, at(0us)) == 1u);
  CHECK(g(t1, at(1s)) - g(t1, at(0s)) == 250000u);
  CHECK(g(t1, at(1s + 3us)) == g(t1, at(1s)));
}
