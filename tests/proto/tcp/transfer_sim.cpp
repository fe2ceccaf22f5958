// tests/proto/tcp/transfer_sim.cpp - what transfer_sim.hpp declares.
#include "transfer_sim.hpp"

namespace coronet::test {

digest stream_digest(std::uint64_t seed, std::size_t len) {
  static std::map<std::pair<std::uint64_t, std::size_t>, digest> cache;
  auto key = std::make_pair(seed, len);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  REQUIRE(sodium_init() >= 0);
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  std::vector<std::uint8_t> buf(1 << 16);
  byte_stream s(seed);
  for (std::size_t off = 0; off < len;) {
    std::size_t n = std::min(buf.size(), len - off);
    s.fill(off, mut_bytes(buf.data(), n));
    crypto_hash_sha256_update(&st, buf.data(), n);
    off += n;
  }
  digest d{};
  crypto_hash_sha256_final(&st, d.data());
  cache.emplace(key, d);
  return d;
}

std::string segment_log(const io::memory_link& l, time_point from, std::size_t max_lines) {
  std::ostringstream o;
  std::size_t n = 0;
  for (const auto& s : l.segments()) {
    if (s.at < from) continue;
    if (++n > max_lines) {
      o << "...\n";
      break;
    }
    const auto& h = s.tcp;
    o << std::chrono::duration_cast<std::chrono::microseconds>(s.at.time_since_epoch()).count() << "us "
      << (s.dir == io::link_dir::a_to_b ? "c>s " : "s>c ");
    for (auto [f, c] : {std::pair{wire::tcp_flag::syn, 'S'}, std::pair{wire::tcp_flag::fin, 'F'},
                        std::pair{wire::tcp_flag::rst, 'R'}, std::pair{wire::tcp_flag::ack, '.'}})
      if (h.flags & f) o << c;
    o << " seq " << h.seq << " ack " << h.ack << " win " << h.window << " len " << s.payload_len;
    for (std::uint8_t i = 0; i < h.options.sack_count; ++i)
      o << " sack " << h.options.sack[i].left << "-" << h.options.sack[i].right;
    if (h.options.timestamps) o << " ts " << h.options.timestamps->tsval << "/" << h.options.timestamps->tsecr;
    if (s.dropped) o << " LOST";
    o << "\n";
  }
  return o.str();
}

bool transfer_sim::establish(std::uint16_t port) {
  auto l = s.server.listen(port, 16);
  REQUIRE(l.has_value());
  listener = *l;
  auto c = s.connect(s.server_ep(port));
  REQUIRE(c.has_value());
  std::optional<conn_id> a;
  bool ok = drive(
      [&] {
        if (!a) a = s.server.accept(listener);
        return a && sim::has_event(s.client_events, event::kind::connected, *c);
      },
      s.now + 200s);
  if (!ok) return false;
  setup(client_app, s.client, *c, s.client_events, spec.seed * 2 + 1, spec.seed * 2 + 2, spec.bytes_up,
        spec.bytes_down);
  setup(server_app, s.server, *a, s.server_events, spec.seed * 2 + 2, spec.seed * 2 + 1, spec.bytes_down,
        spec.bytes_up);
  return true;
}

bool transfer_sim::exchange() {
  start_ = s.now;
  bool ok = drive([&] { return client_app.done_streams() && server_app.done_streams(); },
                  s.now + spec.time_limit);
  exchange_time = s.now - start_;
  return ok;
}

bool transfer_sim::close_both() {
  return drive([&] { return client_app.closed_event && server_app.closed_event; }, s.now + spec.close_limit);
}

bool transfer_sim::drive(const std::function<bool()>& done, time_point deadline) {
  for (; steps < spec.step_limit; ++steps) {
    settle();
    if (done()) return true;
    auto next = wakeup();
    if (!next || *next > deadline) {
      if (s.now < deadline) {
        s.now = deadline;
        settle();
        if (done()) return true;
      }
      failure = "deadline reached at t=" + ms_string(s.now) + (next ? "" : " (network idle)");
      return false;
    }
    s.now = std::max(s.now, *next);
  }
  failure = "step limit (" + std::to_string(spec.step_limit) + ") reached at t=" + ms_string(s.now);
  return false;
}

bool transfer_sim::run_for(duration d) {
  time_point until = s.now + d;
  return drive([&] { return s.now >= until; }, until);
}

void transfer_sim::add_bytes(app_side& from, app_side& to, std::size_t n) {
  from.to_send += n;
  from.all_sent_at.reset();
  to.to_recv += n;
  to.all_read_at.reset();
}

std::string transfer_sim::summary() const {
  std::ostringstream o;
  o << "link " << spec.link.name << ", t=" << ms_string(s.now) << " exchange " << to_ms(exchange_time)
    << " ms, steps " << steps << (failure.empty() ? "" : ", stopped: " + failure) << "\n";
  side_summary(o, "client", client_app, s.client.stats());
  side_summary(o, "server", server_app, s.server.stats());
  for (io::link_dir d : {sim::c2s, sim::s2c}) {
    const auto& l = s.link.stats(d);
    o << (d == sim::c2s ? "c2s" : "s2c") << " frames sent " << l.sent << " dropped " << l.dropped
      << " duplicated " << l.duplicated << " delivered " << l.delivered << "\n";
  }
  return o.str();
}

void transfer_sim::setup(app_side& a, engine& e, conn_id c, std::vector<event>& evs, std::uint64_t out_seed,
                         std::uint64_t in_seed, std::size_t to_send, std::size_t to_recv) {
  a.e = &e;
  a.c = c;
  a.events = &evs;
  a.seen = evs.size();
  a.out = byte_stream(out_seed);
  a.in = byte_stream(in_seed);
  a.out_seed = out_seed;
  a.in_seed = in_seed;
  a.to_send = to_send;
  a.to_recv = to_recv;
  crypto_hash_sha256_init(&a.hash);
}

bool transfer_sim::on_frame(io::link_dir d, bytes f) {
  auto i = static_cast<std::size_t>(d);
  if (drop_filter[i] && drop_filter[i](f)) return true;
  if (spec.link.reorder > 0 && uniform() < spec.link.reorder) {
    int k = 1 + static_cast<int>(rng_() % static_cast<std::uint64_t>(std::max(1, spec.link.reorder_max)));
    s.link.reorder_next(d, k);
    hold_until_[i] = s.now + std::max<duration>(spec.delay, 1ms);
  }
  return false;
}

std::optional<time_point> transfer_sim::wakeup() const {
  auto t = s.next_wakeup();
  for (const auto& h : hold_until_)
    if (h && (!t || *h < *t)) t = h;
  return t;
}

void transfer_sim::settle() {
  for (int round = 0; round < 100000; ++round) {
    for (std::size_t i = 0; i < 2; ++i) {
      if (hold_until_[i] && *hold_until_[i] <= s.now) {
        s.link.release_held(static_cast<io::link_dir>(i), s.now);
        hold_until_[i].reset();
      }
    }
    s.step();
    bool moved = app(client_app);
    moved |= app(server_app);
    if (!moved) return;
  }
  FAIL("transfer_sim::settle: the applications never stop moving at t=" << ms_string(s.now));
}

bool transfer_sim::app(app_side& a) {
  if (a.e == nullptr || a.closed_called) {
    if (a.e) take_events(a);
    return false;
  }
  take_events(a);
  bool moved = false;
  moved |= write(a);
  moved |= read(a);
  if (a.auto_close) moved |= maybe_close(a);
  return moved;
}

void transfer_sim::take_events(app_side& a) {
  for (; a.seen < a.events->size(); ++a.seen) {
    const event& ev = (*a.events)[a.seen];
    if (ev.conn != a.c) continue;
    switch (ev.what) {
      case event::kind::readable: a.can_read = true; break;
      case event::kind::writable: a.can_write = true; break;
      case event::kind::reset: a.reset = ev; break;
      case event::kind::closed: a.closed_event = true; break;
      default: break;
    }
  }
}

bool transfer_sim::write(app_side& a) {
  if (a.reset || !a.can_write || a.sent == a.to_send || a.shut) return false;
  bool moved = false;
  for (int i = 0; i < 1024 && a.sent < a.to_send; ++i) {
    std::size_t want = std::min(chunk_.size(), a.to_send - a.sent);
    a.out.fill(a.sent, mut_bytes(chunk_.data(), want));
    std::size_t n = a.e->send(a.c, bytes(chunk_.data(), want), s.now);
    a.sent += n;
    moved |= n > 0;
    if (n < want) {
      a.can_write = false;  // wait for `writable`
      break;
    }
  }
  if (a.sent == a.to_send && !a.all_sent_at) a.all_sent_at = s.now;
  return moved;
}

bool transfer_sim::read(app_side& a) {
  if (!a.reading || !a.can_read) return false;
  bool moved = false;
  for (int i = 0; i < 100000; ++i) {
    std::size_t n = a.e->recv(a.c, chunk_, s.now);
    if (n == 0) break;
    moved = true;
    check_bytes(a, bytes(chunk_.data(), n));
    crypto_hash_sha256_update(&a.hash, chunk_.data(), n);
    a.received += n;
  }
  a.can_read = false;
  if (!a.eof && a.e->at_eof(a.c)) {
    a.eof = true;
    moved = true;
  }
  if (a.received >= a.to_recv && !a.all_read_at) a.all_read_at = s.now;
  return moved;
}

void transfer_sim::check_bytes(app_side& a, bytes got) {
  if (a.first_mismatch) return;
  if (a.received + got.size() > a.to_recv) {
    a.first_mismatch = a.to_recv;  // more than the peer ever wrote
    return;
  }
  expect_.resize(got.size());
  a.in.fill(a.received, expect_);
  if (std::memcmp(got.data(), expect_.data(), got.size()) == 0) return;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != expect_[i]) {
      a.first_mismatch = a.received + i;
      return;
    }
  }
}

bool transfer_sim::maybe_close(app_side& a) {
  bool moved = false;
  if (!a.shut && a.sent == a.to_send) {
    a.e->shutdown_send(a.c, s.now);  // FIN after the queued data
    a.shut = true;
    moved = true;
  }
  if (a.shut && a.done_receiving()) {
    a.e->close(a.c, s.now);
    a.closed_called = true;
    moved = true;
  }
  return moved;
}

void transfer_sim::side_summary(std::ostringstream& o, const char* name, const app_side& a,
                                const counters& st) {
  o << name << ": sent " << a.sent << "/" << a.to_send << " read " << a.received << "/" << a.to_recv
    << (a.eof ? " eof" : "") << (a.reset ? " RESET" : "") << (a.closed_event ? " closed" : "");
  if (a.first_mismatch) o << " FIRST WRONG BYTE at " << *a.first_mismatch;
  if (a.e && !a.closed_called) {
    if (auto i = a.e->info(a.c)) o << " state " << to_string(i->state);
  }
  for (counter c : {counter::tcp_out_segs, counter::tcp_retrans_segs, counter::tcp_timeouts,
                    counter::tcp_fast_retrans, counter::tcp_sack_recovery, counter::tcp_reno_recovery,
                    counter::tcp_loss_probes, counter::tcp_ofo_queue, counter::tcp_dsack_old_sent,
                    counter::tcp_dsack_recv, counter::tcp_win_probe, counter::tcp_delayed_acks}) {
    if (st[c]) o << " " << counter_name(c) << "=" << st[c];
  }
  for (drop d : {drop::tcp_out_of_window, drop::tcp_ofo_full, drop::tcp_rcvbuf_full, drop::tcp_paws_estab,
                 drop::tcp_bad_ack, drop::tx_queue_full}) {
    if (st[d]) o << " " << drop_name(d) << "=" << st[d];
  }
  o << "\n";
}
}  // namespace coronet::test
