// tests/io/af_xdp_test.cpp - the AF_XDP device against the kernel on a veth
// pair: errors at start-up, ARP both ways in native and generic mode (sleeping
// and busy-polled), TX buffers running out and coming back, several RX queues.
// Needs root: without it the lab cases say they are skipped and return. The
// lab and its helpers: af_xdp_lab.hpp.
#include <doctest/doctest.h>

#include "af_xdp_lab.hpp"

#include <set>

using namespace coronet::test::axd;

TEST_CASE("af_xdp: unknown interface -> error names it") {
  rt::uring ring(64, false);
  try {
    io::af_xdp dev(ring, {.ifname = "nosuchif0", .addr = coronet_ip});
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "af_xdp: interface nosuchif0 not found");
  }
}

TEST_CASE("af_xdp: all-zero address -> invalid_argument") {
  rt::uring ring(64, false);
  CHECK_THROWS_AS(io::af_xdp(ring, {.ifname = "nosuchif0"}), std::invalid_argument);
}

TEST_CASE("af_xdp: --queue beyond the interface's queues -> error names the count; nothing attached") {
  SKIP_UNLESS_ROOT();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  rt::uring ring(64, false);
  io::af_xdp_config c = config(io::xdp_mode::generic);
  std::string want;
  SUBCASE("1 queue") {
    c.queue = 1;
    want = "axd-co0 has 1 RX queue (0..0); there is no queue 1";
  }
  SUBCASE("2 queues") {
    if (!set_channels(ns_co, if_co, 2)) {
      CORONET_SKIP_CASE("this kernel's veth refuses 2 queues (ethtool -L rx 2 tx 2)");
    }
    c.queue = 2;
    want = "axd-co0 has 2 RX queues (0..1); there is no queue 2";
  }
  const std::string err = open_error(ring, c);
  INFO(err);
  CHECK(err.find(want) != std::string::npos);
  CHECK(query_xdp().none());
}

// Binding fails after the program is attached (af_xdp's constructor: attach,
// then UMEM, then sockets), so these also prove the half-built device detaches.
TEST_CASE("af_xdp: forced zero-copy on veth -> clear error, nothing stays attached") {
  SKIP_UNLESS_ROOT();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  rt::uring ring(64, false);
  std::string err;
  SUBCASE("native") {
    io::af_xdp_config c = config(io::xdp_mode::native);
    c.bind = io::xdp_bind::zerocopy;
    err = open_error(ring, c);
    INFO(err);
    CHECK(err.find("axd-co0's driver refused zero-copy AF_XDP") != std::string::npos);
    CHECK(err.find("--xdp-bind copy") != std::string::npos);
  }
  SUBCASE("generic") {
    // The driver decides, not the program's mode: the same refusal, and a word on generic.
    io::af_xdp_config c = config(io::xdp_mode::generic);
    c.bind = io::xdp_bind::zerocopy;
    err = open_error(ring, c);
    INFO(err);
    CHECK(err.find("axd-co0's driver refused zero-copy AF_XDP") != std::string::npos);
    CHECK(err.find("generic mode, which copies every frame") != std::string::npos);
  }
  MESSAGE(err);
  const xdp_state st = query_xdp();
  CHECK(st.ok);
  CHECK(st.none());
}

// The kernel lets go of a closed socket's queue in a work item after the
// close; a device opened at once must wait that out, not fail with EBUSY.
TEST_CASE("af_xdp: opened again right after closing, 20 times -> every open succeeds") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  rt::uring ring(64, false);
  for (int i = 0; i < 20; ++i) {
    CAPTURE(i);
    const std::string err = open_error(ring, config(mode));
    REQUIRE_MESSAGE(err.empty(), err);
  }
  CHECK(query_xdp().none());
}

TEST_CASE("af_xdp: a second device while the first holds the interface -> error names the first one's process") {
  SKIP_UNLESS_ROOT();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  rt::uring ring(64, false);
  std::optional<io::af_xdp> first;
  open_in_lab(first, ring, config(io::xdp_mode::generic));
  const std::string err = open_error(ring, config(io::xdp_mode::generic));
  CHECK(err == "af_xdp: axd-co0 (generic (SKB), program id " + std::to_string(query_xdp().skb_prog_id) +
                   ") is in use by coronet process " + std::to_string(::getpid()) +
                   ", which is still running; one coronet per interface");
  first.reset();
  CHECK(query_xdp().none());
}

TEST_CASE("af_xdp: ARP request to the kernel -> the kernel's reply is redirected to the socket") {
  SKIP_UNLESS_ROOT();
  io::xdp_mode mode = io::xdp_mode::native;
  bool busy = false;
  SUBCASE("native, sleeping") { mode = io::xdp_mode::native; }
  SUBCASE("native, busy-polled") { mode = io::xdp_mode::native; busy = true; }
  SUBCASE("generic, sleeping") { mode = io::xdp_mode::generic; }
  SUBCASE("generic, busy-polled") { mode = io::xdp_mode::generic; busy = true; }
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  rt::scheduler s({.busy_poll = busy});
  collector sink;
  std::optional<io::af_xdp> dev;
  open_in_lab(dev, s.ring(), config(mode, busy));  // bind: automatic
  const std::string d = dev->describe();
  INFO(d);
  CHECK(dev->mode() == mode);
  CHECK(dev->bind() == io::xdp_bind::copy);  // veth has no zero-copy AF_XDP
  CHECK(queue_list(*dev) == "0");
  CHECK(d.find(mode_text(mode)) != std::string::npos);
  CHECK(d.find("copy mode") != std::string::npos);
  CHECK(d.find(busy ? "busy-polled" : "io_uring poll") != std::string::npos);
  CHECK(dev->mtu() == 1500);
  CHECK_FALSE(dev->mac().is_multicast());
  dev->start(sink);
  // Busy-polled: the loop polls the device (as net::stack does); sleeping:
  // only the device's io_uring poll on the socket delivers.
  std::optional<device_poller> poller;
  if (busy) poller.emplace(s, *dev);

  const auto me = dev->mac();
  auto buf = dev->tx_buffer();
  REQUIRE(buf.size() >= 1514);
  dev->tx_commit(write_arp_request(buf, me));
  dev->flush();
  CHECK(run_until(s, [&] { return arp_replies(sink, me) >= 1; }, 5s));
  CHECK(arp_replies(sink, me) == 1);
  CHECK(dev->stats().tx_frames == 1);
  CHECK(dev->stats().tx_errors == 0);
  CHECK(dev->stats().rx_frames >= 1);
  CHECK(dev->xdp_stats().tx_wakeups >= 1);  // copy mode always asks for the sendto kick
  if (busy) {
    CHECK(dev->xdp_stats().poll_wakeups == 0);  // no IORING_OP_POLL_ADD armed
  } else {
    CHECK(dev->xdp_stats().poll_wakeups >= 1);
  }
  CHECK(extra(*dev, "XdpRedirectArp").value_or(0) >= 1);
}

TEST_CASE("af_xdp: 64 TX frames in flight with ring_size 64 -> tx_buffer empty, counted; back after flush") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  rt::scheduler s;
  collector sink;
  std::optional<io::af_xdp> dev;
  io::af_xdp_config c = config(mode);
  c.ring_size = 64;
  start_in_lab(dev, s, sink, c);
  device_poller poller(s, *dev);
  const auto me = dev->mac();

  // Two rounds: the second proves all 64 frames of the first came back.
  for (int round = 1; round <= 2; ++round) {
    CAPTURE(round);
    for (int i = 0; i < 64; ++i) {
      auto buf = dev->tx_buffer();
      REQUIRE(!buf.empty());
      dev->tx_commit(write_arp_request(buf, me));
    }
    CHECK(dev->tx_buffer().empty());
    CHECK(dev->stats().tx_ring_full == std::uint64_t(round));
    dev->flush();
    // 64 frames exceed one kick's budget in copy mode (xsk_generic_xmit sends
    // up to 32 per call): the replies prove the device kept kicking.
    const std::size_t want = 64 * std::size_t(round);
    const bool all = run_until(s, [&] { return arp_replies(sink, me) >= want; }, 5s);
    CHECK(all);
    CHECK(arp_replies(sink, me) == want);
    CHECK(dev->stats().tx_errors == 0);
    CHECK(dev->stats().tx_frames == want);
    MESSAGE("round ", round, ": tx_wakeups ", dev->xdp_stats().tx_wakeups, ", tx_retries ",
            dev->xdp_stats().tx_retries);
  }
  CHECK(!dev->tx_buffer().empty());
}

// Which UMEM frames the kernel filled: the device hands frames over in place.
struct frame_sink final : io::rx_sink {
  collector frames;
  std::set<std::uintptr_t> bases;  // each delivery's frame, by its 4 KiB UMEM frame
  void on_frame(bytes f, coronet::rx_meta m) override {
    bases.insert(reinterpret_cast<std::uintptr_t>(f.data()) & ~std::uintptr_t{4095});
    frames.on_frame(f, m);
  }
};

// --xdp-fill 64: the fill ring starts with 64 frames, topped up with the
// frames returned last, and grows when frames come faster. (Two test cases,
// not two SUBCASEs after each_xdp_mode(): doctest then runs the second mode
// for neither.)
struct fill64_rig {
  lab l;
  rt::scheduler s;
  frame_sink sink;
  std::optional<io::af_xdp> dev;
  std::optional<device_poller> poller;
  explicit fill64_rig(io::xdp_mode mode) {
    REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
    io::af_xdp_config c = config(mode);
    c.fill_min = 64;
    start_in_lab(dev, s, sink, c);
    poller.emplace(s, *dev);
  }
};

TEST_CASE("af_xdp: fill_min 64, 150 ARP exchanges one at a time -> the kernel fills the same 64 frames; no growth") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  fill64_rig r(mode);
  const auto me = r.dev->mac();
  for (std::size_t i = 1; i <= 150; ++i) {
    CAPTURE(i);
    auto buf = r.dev->tx_buffer();
    REQUIRE(!buf.empty());
    r.dev->tx_commit(write_arp_request(buf, me));
    r.dev->flush();
    REQUIRE(run_until(r.s, [&] { return arp_replies(r.sink.frames, me) >= i; }, 5s));
  }
  MESSAGE(std::string(mode_text(mode)), ": ", r.sink.frames.frames.size(), " frames in ", r.sink.bases.size(),
          " UMEM frames");
  CHECK(r.sink.frames.frames.size() >= 150);
  CHECK(r.sink.bases.size() <= 64);
  CHECK(extra(*r.dev, "XdpFillGrowths") == std::optional<std::uint64_t>{0});
  CHECK(extra(*r.dev, "XdpFillTarget") == std::optional<std::uint64_t>{64});
}

TEST_CASE("af_xdp: fill_min 64, bursts of 60 and 120 datagrams while nothing polls -> every one arrives; the target doubles twice or more") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  fill64_rig r(mode);
  kernel_knows_coronet(r.dev->mac());
  std::size_t sent = 0;
  for (int burst : {60, 120}) {
    CAPTURE(burst);
    // The fill ring alone holds the burst: 64 frames, then 128 or more.
    kernel_sends_udp(burst);
    sent += static_cast<std::size_t>(burst);
    CHECK(run_until(r.s, [&] { return udp_to(r.sink.frames, ip_coronet) >= sent; }, 5s));
    CHECK(udp_to(r.sink.frames, ip_coronet) == sent);
  }
  MESSAGE(std::string(mode_text(mode)), ": XdpFillGrowths ", extra(*r.dev, "XdpFillGrowths").value_or(0),
          ", XdpFillTarget ", extra(*r.dev, "XdpFillTarget").value_or(0));
  // 60 at once doubled 64 once at least, 120 at once 128 once more (each
  // batch of 16 or more frames taken at once doubles it again).
  CHECK(extra(*r.dev, "XdpFillGrowths").value_or(0) >= 2);
  CHECK(extra(*r.dev, "XdpFillTarget").value_or(0) >= 256);
  CHECK(extra(*r.dev, "XdpFillTarget").value_or(0) <= 2048);
}

// Why the whole ring is the default: frames that come while nothing polls
// land only in what the fill ring holds; past that the kernel drops them
// (xsk_rcv finds the fill ring empty) and counts them in XDP_STATISTICS.
TEST_CASE("af_xdp: 300 datagrams while nothing polls -> the whole fill ring holds them all; a fill of 64 loses the rest, counted") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  constexpr int burst = 300;
  for (std::uint32_t fill_min : {0u, 64u}) {  // the default (the whole ring), then --xdp-fill 64
    CAPTURE(fill_min);
    lab l;
    REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
    rt::scheduler s;
    frame_sink sink;
    std::optional<io::af_xdp> dev;
    io::af_xdp_config c = config(mode);
    c.fill_min = fill_min;
    start_in_lab(dev, s, sink, c);
    device_poller poller(s, *dev);
    kernel_knows_coronet(dev->mac());
    kernel_sends_udp(burst);  // nothing polls meanwhile
    // Everything the kernel kept is in the RX ring now; a few polls take it.
    run_until(s, [&] { return udp_to(sink.frames, ip_coronet) >= std::size_t{burst}; }, 1s);
    const std::size_t got = udp_to(sink.frames, ip_coronet);
    const std::uint64_t empty = extra(*dev, "XskRxFillRingEmpty").value_or(0);
    MESSAGE(std::string(mode_text(mode)), ", fill_min ", fill_min, ": ", got, " of ", burst,
            " arrived; XskRxFillRingEmpty ", empty);
    if (fill_min == 0) {
      CHECK(got == std::size_t{burst});
      CHECK(empty == 0);
    } else {
      CHECK(got >= 64);
      CHECK(got < std::size_t{burst});
      CHECK(empty == burst - got);  // every frame lost, the kernel counted
    }
  }
}

TEST_CASE("af_xdp: coronet's end with 2 RX queues -> a socket on each, ARP and UDP still arrive") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  // Native XDP on veth wants as many RX queues here as TX queues on the peer.
  if (!set_channels(ns_co, if_co, 2) || !set_channels(ns_kn, if_kn, 2)) {
    CORONET_SKIP_CASE("this kernel's veth refuses 2 queues (ethtool -L rx 2 tx 2)");
  }
  rt::scheduler s;
  collector sink;
  std::optional<io::af_xdp> dev;
  open_in_lab(dev, s.ring(), config(mode));
  INFO(dev->describe());
  CHECK(queue_list(*dev) == "0,1");
  CHECK(dev->describe().find("queues 0,1") != std::string::npos);
  dev->start(sink);
  CHECK(kernel_answers_arp(s, *dev, sink));
  const auto me = dev->mac();

  // Datagrams sent on the peer's TX queue 1, then on its queue 0 (XPS), so
  // (in native mode) arriving on each RX queue here: all reach the device.
  // XdpRxFramesQ<N> says which socket took them. Native: the peer's TX queue
  // q is this end's RX queue q, so queue q's socket takes that batch. Generic:
  // veth's SKB path hands every frame to the program as queue 0 (see the
  // --queue 1 case below), so only the total is checked there.
  kernel_knows_coronet(me);  // permanent: the kernel sends no ARP of its own
  constexpr int n = 8;
  std::size_t want = 0;
  for (int q : {1, 0}) {
    CAPTURE(q);
    if (!kernel_sends_on_queue(q)) CORONET_SKIP_CASE("XPS refused: the kernel picks its TX queues itself");
    const auto before = extra(*dev, "XdpRxFramesQ" + std::to_string(q)).value_or(0);
    kernel_sends_udp(n);
    want += n;
    CHECK(run_until(s, [&] { return udp_to(sink, ip_coronet) >= want; }, 5s));
    const auto took = extra(*dev, "XdpRxFramesQ" + std::to_string(q)).value_or(0) - before;
    MESSAGE(std::string(mode_text(mode)), ": queue ", q, "'s socket took ", took, " of the ", n,
            " sent on the peer's TX queue ", q);
    if (mode == io::xdp_mode::native) CHECK(took == std::uint64_t{n});
  }
  CHECK(udp_to(sink, ip_coronet) == std::size_t{2 * n});
  CHECK(extra(*dev, "XdpRedirectIpv4") == std::optional<std::uint64_t>{2 * n});
  CHECK(extra(*dev, "XdpRxFramesQ0").value_or(0) + extra(*dev, "XdpRxFramesQ1").value_or(0) ==
        dev->stats().rx_frames);
}

// Only the first socket transmits; the others are RX-only, so an interface
// with fewer TX queues than RX queues (veth: rx 2 tx 1) takes a socket on
// every RX queue, and the one on queue 0 sends.
TEST_CASE("af_xdp: 2 RX queues and 1 TX queue -> a socket on each RX queue, ARP answered") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  if (!set_channels(ns_co, if_co, 2, 1)) CORONET_SKIP_CASE("this kernel's veth refuses rx 2 tx 1 (ethtool -L)");
  rt::scheduler s;
  collector sink;
  std::optional<io::af_xdp> dev;
  open_in_lab(dev, s.ring(), config(mode));
  INFO(dev->describe());
  CHECK(queue_list(*dev) == "0,1");
  dev->start(sink);
  CHECK(kernel_answers_arp(s, *dev, sink));
}

TEST_CASE("af_xdp: --queue 1 with 1 TX queue -> error says queue 1 cannot transmit; nothing attached") {
  SKIP_UNLESS_ROOT();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  if (!set_channels(ns_co, if_co, 2, 1)) CORONET_SKIP_CASE("this kernel's veth refuses rx 2 tx 1 (ethtool -L)");
  rt::uring ring(64, false);
  io::af_xdp_config c = config(io::xdp_mode::native);
  c.queue = 1;
  const std::string err = open_error(ring, c);
  INFO(err);
  CHECK(err.find("axd-co0 has 1 TX queue (0..0); queue 1 cannot transmit") != std::string::npos);
  CHECK(query_xdp().none());
}

// Native mode only: on veth's generic (SKB) path every frame reached the XDP
// program with rx_queue_index 0 whatever TX queue the peer used (seen on
// 6.18; the skb still carries the TX index in queue_mapping, which
// netif_get_rxqueue reads as RX queue + 1), so a socket on queue 1 alone
// would never see a frame there.
TEST_CASE("af_xdp: native, --queue 1 of 2 -> frames on queue 1 reach the device, frames on queue 0 the kernel") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = io::xdp_mode::native;
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  if (!set_channels(ns_co, if_co, 2) || !set_channels(ns_kn, if_kn, 2) || !kernel_sends_on_queue(1)) {
    CORONET_SKIP_CASE("this kernel's veth refuses 2 queues (ethtool -L rx 2 tx 2) or XPS");
  }
  rt::scheduler s;
  collector sink;
  std::optional<io::af_xdp> dev;
  io::af_xdp_config c = config(mode);
  c.queue = 1;
  open_in_lab(dev, s.ring(), c);
  INFO(dev->describe());
  CHECK(queue_list(*dev) == "1");
  dev->start(sink);
  const auto me = dev->mac();
  kernel_knows_coronet(me);

  // The kernel answers on its TX queue 1, which is coronet's RX queue 1.
  auto buf = dev->tx_buffer();
  REQUIRE(!buf.empty());
  dev->tx_commit(write_arp_request(buf, me));
  dev->flush();
  CHECK(run_until(s, [&] { return arp_replies(sink, me) >= 1; }, 5s));
  constexpr int n = 8;
  kernel_sends_udp(n);
  CHECK(run_until(s, [&] { return udp_to(sink, ip_coronet) >= std::size_t{n}; }, 5s));
  CHECK(udp_to(sink, ip_coronet) == std::size_t{n});
  CHECK(extra(*dev, "XdpRedirectIpv4") == std::optional<std::uint64_t>{n});

  // Now on queue 0, where coronet has no socket: the program passes them to
  // the kernel (which owns no 198.18.8.2 and drops them) and counts a pass.
  REQUIRE(kernel_sends_on_queue(0));
  const std::uint64_t passed = extra(*dev, "XdpPass").value_or(0);
  kernel_sends_udp(n);
  run_until(s, [&] { return extra(*dev, "XdpPass").value_or(0) >= passed + n; }, 2s);
  CHECK(udp_to(sink, ip_coronet) == std::size_t{n});  // none of the second batch
  CHECK(extra(*dev, "XdpPass").value_or(0) >= passed + n);
  CHECK(extra(*dev, "XdpRedirectIpv4") == std::optional<std::uint64_t>{n});
}
