// tests/io/impaired_device_test.cpp - loss, duplication and reordering in
// front of a memory device, both directions; the spec parser; two stacks
// moving data across impaired devices.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/impaired_device.hpp"
#include "io/memory_device.hpp"
#include "net/stack.hpp"
#include "runtime/cancel.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/task.hpp"
#include "runtime/timer.hpp"

namespace io = coronet::io;
using coronet::bytes;
using coronet::mac_addr;
using coronet::rx_meta;

namespace {

struct collector final : io::rx_sink {
  std::vector<std::vector<std::uint8_t>> frames;
  void on_frame(bytes f, rx_meta) override { frames.emplace_back(f.begin(), f.end()); }
  // The sequence number each frame carries in its first four bytes.
  std::vector<std::uint32_t> seqs() const {
    std::vector<std::uint32_t> v;
    for (const auto& f : frames) {
      std::uint32_t s = 0;
      std::memcpy(&s, f.data(), sizeof s);
      v.push_back(s);
    }
    return v;
  }
};

// Writes a frame of `len` bytes numbered `seq` (the rest filled with its low byte).
void send(io::device& d, std::uint32_t seq, std::size_t len = 64) {
  auto buf = d.tx_buffer();
  REQUIRE(buf.size() >= len);
  std::memset(buf.data(), static_cast<int>(seq & 0xff), len);
  std::memcpy(buf.data(), &seq, sizeof seq);
  d.tx_commit(len);
}

io::impairment spec(std::string_view text) {
  auto r = io::parse_impairment(text);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error()));
  return *r;
}

// dev (impaired, over memory "a") <-> peer (memory "b").
// tx: dev -> peer, collected in at_peer. rx: peer -> dev, collected in at_dev.
struct rig {
  explicit rig(const io::impairment& s, std::uint16_t mtu = 1500, std::size_t queue = 256) {
    auto a = std::make_unique<io::memory_device>("memory:a", mac_addr{{2, 0, 0, 0, 0, 0xa}}, mtu, queue);
    peer = std::make_unique<io::memory_device>("memory:b", mac_addr{{2, 0, 0, 0, 0, 0xb}}, mtu, queue);
    a->connect(*peer);
    peer->connect(*a);
    inner = a.get();
    dev = std::make_unique<io::impaired_device>(std::move(a), s);
    dev->start(at_dev);
    peer->start(at_peer);
  }
  // dev sends seqs [from, to) in one burst, then the peer receives.
  void tx(std::uint32_t from, std::uint32_t to, std::size_t len = 64) {
    for (std::uint32_t i = from; i < to; ++i) send(*dev, i, len);
    dev->flush();
    peer->poll();
  }
  // The peer sends seqs [from, to) in one burst, then dev polls once.
  void rx(std::uint32_t from, std::uint32_t to, std::size_t len = 64) {
    for (std::uint32_t i = from; i < to; ++i) send(*peer, i, len);
    peer->flush();
    dev->poll();
  }

  io::memory_device* inner = nullptr;
  std::unique_ptr<io::memory_device> peer;
  std::unique_ptr<io::impaired_device> dev;
  collector at_dev, at_peer;
};

std::vector<std::uint32_t> iota(std::uint32_t from, std::uint32_t to) {
  std::vector<std::uint32_t> v;
  for (std::uint32_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

}  // namespace

// --- exact behaviour ---

TEST_CASE("impaired_device: all at 0% -> every frame passes once, in order, both ways") {
  rig r(spec("loss=0%,dup=0%,reorder=0%"));
  r.tx(0, 20);
  r.rx(0, 20);
  CHECK(r.at_peer.seqs() == iota(0, 20));
  CHECK(r.at_dev.seqs() == iota(0, 20));
  CHECK(r.at_peer.frames[5] == r.at_dev.frames[5]);
  const auto& st = r.dev->impair_stats();
  CHECK(st.tx.frames == 20);
  CHECK(st.rx.frames == 20);
  CHECK(st.tx.dropped + st.tx.duplicated + st.tx.reordered + st.rx.dropped + st.rx.duplicated + st.rx.reordered == 0);
  CHECK_FALSE(r.dev->rx_ready());
}

TEST_CASE("impaired_device: forwards mac, mtu, stats; name shows the inner device and the spec") {
  rig r(spec("loss=1%,seed=9"), 9000);
  CHECK(r.dev->mac() == r.inner->mac());
  CHECK(r.dev->mtu() == 9000);
  r.tx(0, 3);
  CHECK(&r.dev->stats() == &r.inner->stats());
  CHECK(r.dev->name() == "memory:a+impair(loss=1%,seed=9)");
}

TEST_CASE("impaired_device: tx loss=100% -> nothing arrives, the inner buffer is reused, all counted") {
  rig r(spec("tx.loss=100%"), 1500, 4);  // a ring of 4: leaked buffers would show at once
  r.tx(0, 50);
  CHECK(r.at_peer.frames.empty());
  CHECK(r.dev->impair_stats().tx.dropped == 50);
  CHECK(r.inner->stats().tx_frames == 0);
  CHECK(r.inner->stats().tx_ring_full == 0);
  r.rx(0, 3);  // rx untouched
  CHECK(r.at_dev.seqs() == iota(0, 3));
}

TEST_CASE("impaired_device: rx loss=100% -> the sink sees nothing, tx untouched") {
  rig r(spec("rx.loss=100%"));
  r.rx(0, 30);
  CHECK(r.at_dev.frames.empty());
  CHECK(r.dev->impair_stats().rx.dropped == 30);
  r.tx(0, 3);
  CHECK(r.at_peer.seqs() == iota(0, 3));
}

TEST_CASE("impaired_device: dup=100% -> every frame twice, back to back, identical bytes") {
  rig r(spec("dup=100%"));
  r.tx(0, 5, 300);
  r.rx(0, 5, 300);
  const std::vector<std::uint32_t> want{0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
  CHECK(r.at_peer.seqs() == want);
  CHECK(r.at_dev.seqs() == want);
  CHECK(r.at_peer.frames[2] == r.at_peer.frames[3]);
  CHECK(r.at_peer.frames[3].size() == 300);
  CHECK(r.dev->impair_stats().tx.duplicated == 5);
  CHECK(r.dev->impair_stats().rx.duplicated == 5);
}

TEST_CASE("impaired_device: reorder=100%, gap 3 -> each held frame follows the next three") {
  rig r(spec("reorder=100%"));
  r.tx(0, 8);
  r.rx(0, 8);
  const std::vector<std::uint32_t> want{1, 2, 3, 0, 5, 6, 7, 4};
  CHECK(r.at_peer.seqs() == want);
  CHECK(r.at_dev.seqs() == want);
  CHECK(r.dev->impair_stats().tx.reordered == 2);
  CHECK(r.dev->impair_stats().rx.reordered == 2);
  CHECK_FALSE(r.dev->rx_ready());  // nothing held
}

TEST_CASE("impaired_device: reorder-gap=1 -> neighbours swap") {
  rig r(spec("reorder=100%,reorder-gap=1"));
  r.tx(0, 6);
  CHECK(r.at_peer.seqs() == std::vector<std::uint32_t>{1, 0, 3, 2, 5, 4});
}

TEST_CASE("impaired_device: tx frame held at the end of a burst -> rx_ready, sent at the next poll") {
  rig r(spec("tx.reorder=100%"));
  r.tx(0, 2);  // 0 held, 1 passes: 0 still held
  CHECK(r.at_peer.seqs() == std::vector<std::uint32_t>{1});
  CHECK(r.dev->rx_ready());  // a sleeping loop must come back for it
  r.dev->poll();             // commits and flushes the held frame
  CHECK_FALSE(r.dev->rx_ready());
  r.peer->poll();
  CHECK(r.at_peer.seqs() == std::vector<std::uint32_t>{1, 0});
  CHECK(r.at_peer.frames[1] == std::vector<std::uint8_t>(64, 0));  // seq 0: all zero bytes
}

TEST_CASE("impaired_device: rx frame held in a poll -> released at the end of the next poll, after its frames") {
  rig r(spec("rx.reorder=100%"));
  r.rx(0, 1);  // 0 held while this poll ran
  CHECK(r.at_dev.frames.empty());
  CHECK(r.dev->rx_ready());
  r.rx(1, 2);  // 1 passes in this poll (the slot is taken), then 0 is released
  CHECK(r.at_dev.seqs() == std::vector<std::uint32_t>{1, 0});
  CHECK_FALSE(r.dev->rx_ready());
  r.rx(2, 3);  // held again; an empty poll releases it
  CHECK(r.dev->rx_ready());
  r.dev->poll();
  CHECK(r.at_dev.seqs() == std::vector<std::uint32_t>{1, 0, 2});
  CHECK_FALSE(r.dev->rx_ready());
}

TEST_CASE("impaired_device: dup and reorder both 100% -> one copy now, the held copy after three frames") {
  rig r(spec("dup=100%,reorder=100%"));
  r.tx(0, 4);
  // 0: held and duplicated; 1..3 find the slot taken: duplicated, passing 0.
  CHECK(r.at_peer.seqs() == std::vector<std::uint32_t>{0, 1, 1, 2, 2, 3, 3, 0});
  CHECK(r.dev->impair_stats().tx.duplicated == 4);
  CHECK(r.dev->impair_stats().tx.reordered == 1);
}

TEST_CASE("impaired_device: tx duplicate with the inner ring full -> copy lost, no_buffer counted") {
  rig r(spec("tx.dup=100%"), 1500, 3);
  send(*r.dev, 0);  // 0 and its copy: 2 of 3 slots
  send(*r.dev, 1);  // 1 takes the last slot; its copy finds none
  r.dev->flush();
  r.peer->poll();
  CHECK(r.at_peer.seqs() == std::vector<std::uint32_t>{0, 0, 1});
  CHECK(r.dev->impair_stats().tx.no_buffer == 1);
  CHECK(r.dev->impair_stats().tx.duplicated == 1);
}

TEST_CASE("impaired_device: rx super-frame of 64 KiB held and released intact") {
  rig r(spec("rx.reorder=100%,reorder-gap=1"), 65521, 8);  // frames up to 65,535 bytes
  r.rx(0, 2, 65535);
  REQUIRE(r.at_dev.seqs() == std::vector<std::uint32_t>{1, 0});
  CHECK(r.at_dev.frames[1].size() == 65535);
  CHECK(r.at_dev.frames[1][65534] == 0);
  CHECK(r.at_dev.frames[0][65534] == 1);
}

// --- statistics ---

TEST_CASE("impaired_device: loss/dup/reorder 10% over 20000 frames -> near 10%, every surviving frame delivered") {
  rig r(spec("loss=10%,dup=10%,reorder=10%,seed=12345"));
  constexpr std::uint32_t n = 20000, burst = 100;
  for (std::uint32_t i = 0; i < n; i += burst) {
    r.tx(i, i + burst);
    r.rx(i, i + burst);
  }
  r.dev->poll();  // anything still held
  r.peer->poll();
  for (const auto* d : {&r.dev->impair_stats().tx, &r.dev->impair_stats().rx}) {
    CHECK(d->frames == n);
    CHECK(d->dropped > n / 10 - 400);  // 2000 expected; 400 is > 6 standard deviations
    CHECK(d->dropped < n / 10 + 400);
    CHECK(d->duplicated > 1800 * 9 / 10 - 400);  // 10% of the 90% that survive
    CHECK(d->duplicated < 1800 * 9 / 10 + 400);
    // Held only when the slot is free: a little under 10% of survivors.
    CHECK(d->reordered > 1300);
    CHECK(d->reordered < 1800 + 400);
    CHECK(d->no_buffer == 0);
  }
  for (const auto* c : {&r.at_peer, &r.at_dev}) {
    const auto& st = c == &r.at_peer ? r.dev->impair_stats().tx : r.dev->impair_stats().rx;
    CHECK(c->frames.size() == n - st.dropped + st.duplicated);
    auto got = c->seqs();
    std::sort(got.begin(), got.end());
    got.erase(std::unique(got.begin(), got.end()), got.end());
    CHECK(got.size() == n - st.dropped);  // every frame not lost came through
  }
  CHECK_FALSE(r.dev->rx_ready());
}

TEST_CASE("impaired_device: the same seed -> the same decisions; another seed -> others") {
  auto run = [](std::string_view s) {
    rig r(spec(s));
    for (std::uint32_t i = 0; i < 1000; i += 50) r.tx(i, i + 50);
    r.dev->poll();
    r.peer->poll();
    return r.at_peer.seqs();
  };
  CHECK(run("loss=5%,dup=5%,reorder=5%,seed=1") == run("loss=5%,dup=5%,reorder=5%,seed=1"));
  CHECK(run("loss=5%,dup=5%,reorder=5%,seed=1") != run("loss=5%,dup=5%,reorder=5%,seed=2"));
}

TEST_CASE("impaired_device: rx decisions do not depend on tx traffic") {
  auto rx_seqs = [](bool with_tx) {
    rig r(spec("loss=20%,seed=5"));
    for (std::uint32_t i = 0; i < 500; i += 50) {
      if (with_tx) r.tx(i, i + 50);
      r.rx(i, i + 50);
    }
    return r.at_dev.seqs();
  };
  CHECK(rx_seqs(false) == rx_seqs(true));
}

TEST_CASE("impaired_device: settings out of range or no inner device -> invalid_argument") {
  io::impairment bad;
  bad.rx.loss = 101;
  auto inner = [] { return std::make_unique<io::memory_device>("m", mac_addr{}, 1500, 4); };
  CHECK_THROWS_AS(io::impaired_device(inner(), bad), std::invalid_argument);
  io::impairment gap;
  gap.reorder_gap = 0;
  CHECK_THROWS_AS(io::impaired_device(inner(), gap), std::invalid_argument);
  CHECK_THROWS_AS(io::impaired_device(nullptr, io::impairment{}), std::invalid_argument);
}

// --- the spec parser ---

TEST_CASE("parse_impairment: good specs") {
  auto a = spec("loss=1%");
  CHECK(a.rx.loss == 1);
  CHECK(a.tx.loss == 1);
  CHECK(a.rx.dup == 0);
  CHECK(a.reorder_gap == 3);
  CHECK(a.seed == 1);

  auto b = spec("rx.loss=0.5%,tx.dup=2%,reorder=5%,reorder-gap=7,seed=42");
  CHECK(b.rx.loss == 0.5);
  CHECK(b.tx.loss == 0);
  CHECK(b.tx.dup == 2);
  CHECK(b.rx.dup == 0);
  CHECK(b.rx.reorder == 5);
  CHECK(b.tx.reorder == 5);
  CHECK(b.reorder_gap == 7);
  CHECK(b.seed == 42);

  auto c = spec("loss=1%,rx.loss=3%");  // later items override
  CHECK(c.rx.loss == 3);
  CHECK(c.tx.loss == 1);

  CHECK(spec("dup=100%").tx.dup == 100);
  CHECK(spec("reorder-gap=64").reorder_gap == 64);
  CHECK(spec("seed=18446744073709551615").seed == UINT64_MAX);
}

TEST_CASE("parse_impairment: bad specs -> the message names the item and shows the grammar") {
  struct bad_case {
    const char* spec;
    const char* item;  // quoted in the message
    const char* why;   // part of the reason
  };
  const bad_case cases[] = {
      {"loss=1", "'loss=1'", "trailing '%'"},
      {"loss=101%", "'loss=101%'", "0..100"},
      {"loss=-1%", "'loss=-1%'", "0..100"},
      {"loss=nan%", "'loss=nan%'", "0..100"},
      {"loss=%", "'loss=%'", "percentage"},
      {"loss=1%%", "'loss=1%%'", "percentage"},
      {"jitter=1%", "'jitter=1%'", "unknown key 'jitter'"},
      {"rx.seed=4", "'rx.seed=4'", "prefix"},
      {"up.loss=1%", "'up.loss=1%'", "unknown key"},
      {"reorder-gap=0", "'reorder-gap=0'", "1..64"},
      {"reorder-gap=65", "'reorder-gap=65'", "1..64"},
      {"seed=abc", "'seed=abc'", "whole number"},
      {"loss", "'loss'", "KEY=VALUE"},
      {"loss=1%,", "''", "empty item"},
      {"loss=1%,,dup=1%", "''", "empty item"},
      {"dup=2%,loss=x", "'loss=x'", "percentage"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.spec);
    auto r = io::parse_impairment(c.spec);
    REQUIRE_FALSE(r.has_value());
    const std::string e = r.error();
    CHECK(e.find(c.item) != std::string::npos);
    CHECK(e.find(c.why) != std::string::npos);
    CHECK(e.find("[rx.|tx.]loss=P%") != std::string::npos);  // the grammar
  }
  auto empty = io::parse_impairment("");
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().find("empty") != std::string::npos);
  CHECK(empty.error().find("reorder-gap=K") != std::string::npos);
}

TEST_CASE("to_string(impairment) -> the canonical spec, which parses back to the same settings") {
  CHECK(io::to_string(io::impairment{}) == "seed=1");
  CHECK(io::to_string(spec("loss=1%")) == "loss=1%,seed=1");
  CHECK(io::to_string(spec("rx.loss=0.5%,tx.loss=2%,dup=3%,tx.reorder=7%,reorder-gap=5,seed=9")) ==
        "rx.loss=0.5%,tx.loss=2%,dup=3%,tx.reorder=7%,reorder-gap=5,seed=9");
  for (const char* s : {"loss=0.1%", "rx.dup=33.333%,reorder=100%", "tx.loss=1e-3%,seed=0", "reorder-gap=64"}) {
    CAPTURE(s);
    auto once = spec(s);
    CHECK(spec(io::to_string(once)) == once);
  }
}

// --- a TCP transfer across impaired devices ---

namespace {

namespace net = coronet::net;
namespace rt = coronet::rt;
using coronet::ipv4_addr;

net::stack_config stack_cfg(ipv4_addr a, std::uint64_t seed) {
  net::stack_config c;
  c.ifname = "memory";
  c.backend = "memory";
  c.addr = a;
  c.prefix_len = 24;
  c.seed = seed;
  // Retransmissions every few milliseconds, so losses cost little time.
  c.tcp.tcp_rto_initial = std::chrono::milliseconds(20);
  c.tcp.tcp_rto_min = std::chrono::milliseconds(10);
  c.tcp.neigh_retrans_time = std::chrono::milliseconds(20);
  return c;
}

rt::task<> read_to_end(net::stream s, std::vector<std::uint8_t>& got, bool& done) {
  std::array<std::uint8_t, 4096> buf{};
  for (;;) {
    net::result<std::size_t> n = co_await s.read(buf);
    if (!n || *n == 0) break;
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  done = true;
}

// Connects, writes `data` while the server reads it, then sends FIN; ends
// once the server has read to the end of the stream.
rt::task<> transfer(rt::scheduler& sched, net::stack& client, net::stack& server,
                    const std::vector<std::uint8_t>& data, std::vector<std::uint8_t>& got) {
  net::listener l = server.listen(7).value();
  net::result<net::stream> c = co_await client.connect(l.local());
  REQUIRE(c.has_value());
  net::result<net::stream> s = co_await l.accept();
  REQUIRE(s.has_value());
  bool done = false;
  sched.spawn(read_to_end(std::move(*s), got, done));
  net::result<std::size_t> w = co_await c->write(bytes{data});
  REQUIRE(w.has_value());
  c->shutdown();
  while (!done) co_await rt::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace

TEST_CASE("impaired_device under two stacks: 256 KiB with loss, dup and reorder both ways -> arrives intact") {
  rt::scheduler sched;
  auto a = std::make_unique<io::memory_device>("memory:a", mac_addr{{2, 0, 0, 0, 0, 0xa}}, 1500, 256);
  auto b = std::make_unique<io::memory_device>("memory:b", mac_addr{{2, 0, 0, 0, 0, 0xb}}, 1500, 256);
  a->connect(*b);
  b->connect(*a);
  auto bad_link = spec("loss=2%,dup=2%,reorder=5%,seed=3");
  auto ia = std::make_unique<io::impaired_device>(std::move(a), bad_link);
  bad_link.seed = 4;
  auto ib = std::make_unique<io::impaired_device>(std::move(b), bad_link);
  const io::impaired_device* da = ia.get();  // the stacks own them
  const io::impaired_device* db = ib.get();
  net::stack client(sched, stack_cfg(coronet::make_ipv4(198, 18, 0, 1), 1), std::move(ia));
  net::stack server(sched, stack_cfg(coronet::make_ipv4(198, 18, 0, 2), 2), std::move(ib));

  std::vector<std::uint8_t> data(256 * 1024);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
  std::vector<std::uint8_t> got;
  auto done = sched.block_on(rt::with_timeout(transfer(sched, client, server, data, got), std::chrono::seconds(60)));
  REQUIRE_MESSAGE(static_cast<bool>(done), "transfer did not finish in time");
  CHECK(got == data);
  // The link really was bad, in both directions of both devices.
  for (const auto* d : {da, db}) {
    CHECK(d->impair_stats().tx.dropped > 0);
    CHECK(d->impair_stats().tx.reordered > 0);
  }
  CHECK(da->impair_stats().tx.duplicated + db->impair_stats().tx.duplicated > 0);
}
