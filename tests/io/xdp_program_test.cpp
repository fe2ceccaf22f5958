// tests/io/xdp_program_test.cpp - coronet's XDP program on the interface, with
// the AF_XDP device: only coronet's traffic is redirected (the kernel's own
// address on the same interface keeps working), nothing stays attached after
// the device goes, and programs left on the interface by a dead coronet, a live
// one or someone else are removed, refused or left alone. Needs root: without
// it the lab cases say they are skipped and return. The lab and its helpers:
// af_xdp_lab.hpp.
#include <doctest/doctest.h>

#include "af_xdp_lab.hpp"

using namespace coronet::test::axd;

TEST_CASE("af_xdp: kernel owns 198.18.8.4 on the same interface -> its UDP passes, coronet's is redirected") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  lab l(true);
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  rt::scheduler s;
  collector sink;
  std::optional<io::af_xdp> dev;
  start_in_lab(dev, s, sink, config(mode));
  kernel_knows_coronet(dev->mac());

  // The kernel's receiver on coronet's side, and the sender on the far side.
  const int rx = udp_socket_in(ns_co);
  const int tx = udp_socket_in(ns_kn);
  REQUIRE(rx >= 0);
  REQUIRE(tx >= 0);
  const sockaddr_in to_kernel = sockaddr_of(ip_kernel_co, 9000);
  const sockaddr_in to_coronet = sockaddr_of(ip_coronet, 9000);
  REQUIRE(::bind(rx, reinterpret_cast<const sockaddr*>(&to_kernel), sizeof to_kernel) == 0);

  constexpr int n = 5;
  const char payload[] = "coronet af_xdp test";
  for (int i = 0; i < n; ++i) {
    CHECK(::sendto(tx, payload, sizeof payload, 0, reinterpret_cast<const sockaddr*>(&to_coronet),
                   sizeof to_coronet) == static_cast<ssize_t>(sizeof payload));
    CHECK(::sendto(tx, payload, sizeof payload, 0, reinterpret_cast<const sockaddr*>(&to_kernel),
                   sizeof to_kernel) == static_cast<ssize_t>(sizeof payload));
  }
  int kernel_got = 0;
  const bool done = run_until(
      s,
      [&] {
        char buf[64];
        while (::recv(rx, buf, sizeof buf, 0) > 0) ++kernel_got;
        return kernel_got >= n && udp_to(sink, ip_coronet) >= std::size_t{n};
      },
      5s);
  ::close(rx);
  ::close(tx);
  CHECK(done);
  CHECK(kernel_got == n);
  CHECK(udp_to(sink, ip_coronet) == std::size_t{n});
  CHECK(udp_to(sink, ip_kernel_co) == 0);
  // The program's own counters agree: exactly coronet's datagrams were
  // redirected, the kernel's (and the ARP for 198.18.8.4) passed.
  CHECK(extra(*dev, "XdpRedirectIpv4") == std::optional<std::uint64_t>{n});
  CHECK(extra(*dev, "XdpPass").value_or(0) >= std::uint64_t{n});
}

TEST_CASE("af_xdp: device destroyed -> no XDP program remains on the interface") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  {
    rt::scheduler s;
    collector sink;
    std::optional<io::af_xdp> dev;
    start_in_lab(dev, s, sink, config(mode));
    const xdp_state st = query_xdp();
    REQUIRE(st.ok);
    const std::uint32_t id = mode == io::xdp_mode::native ? st.drv_prog_id : st.skb_prog_id;
    CHECK(id != 0);
    CHECK(st.attach_mode == (mode == io::xdp_mode::native ? XDP_ATTACHED_DRV : XDP_ATTACHED_SKB));
    CHECK(prog_name(id) == io::xdp_program::name);
  }
  const xdp_state after = query_xdp();
  CHECK(after.ok);
  CHECK(after.none());
}

TEST_CASE("af_xdp: coronet's program left by a dead process -> removed at start-up, said on stderr") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  const std::uint32_t owner = dead_pid();
  const std::uint32_t old_id = attach_coronet_by_netlink(owner);
  REQUIRE(old_id != 0);
  REQUIRE(query_xdp().skb_prog_id == old_id);

  rt::scheduler s;
  std::optional<io::af_xdp> dev;
  std::string said;
  {
    stderr_capture cap;
    open_in_lab(dev, s.ring(), config(mode));
    said = cap.finish();
  }
  INFO(said);
  CHECK(said.find("removed") != std::string::npos);
  CHECK(said.find(std::to_string(owner)) != std::string::npos);
  const xdp_state st = query_xdp();
  CHECK(st.drv_prog_id != old_id);
  CHECK(st.skb_prog_id != old_id);
  const std::uint32_t now_id = mode == io::xdp_mode::native ? st.drv_prog_id : st.skb_prog_id;
  CHECK(now_id != 0);
  CHECK(prog_name(now_id) == io::xdp_program::name);
  dev.reset();
  CHECK(query_xdp().none());
}

TEST_CASE("af_xdp: coronet's program owned by a live process -> refused, left attached") {
  SKIP_UNLESS_ROOT();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  const std::uint32_t old_id = attach_coronet_by_netlink(static_cast<std::uint32_t>(::getpid()));
  REQUIRE(old_id != 0);
  rt::uring ring(64, false);
  const std::string err = open_error(ring, config(io::xdp_mode::generic));
  INFO(err);
  CHECK(err.find("still running") != std::string::npos);
  CHECK(err.find(std::to_string(::getpid())) != std::string::npos);
  CHECK(query_xdp().skb_prog_id == old_id);
  CHECK(detach_generic());
  CHECK(query_xdp().none());
}

TEST_CASE("af_xdp: another XDP program on the interface -> refused naming it, left attached") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  const std::uint32_t old_id = attach_foreign_program();
  REQUIRE(old_id != 0);
  rt::uring ring(64, false);
  const std::string err = open_error(ring, config(mode));
  INFO(err);
  CHECK(err.find("not_coronet") != std::string::npos);
  CHECK(err.find("not coronet's") != std::string::npos);
  const xdp_state st = query_xdp();
  CHECK(st.skb_prog_id == old_id);
  CHECK(st.drv_prog_id == 0);
  CHECK(detach_generic());
  CHECK(query_xdp().none());
}

