#include "io/memory_link.hpp"

#include <algorithm>
#include <utility>

#include "proto/wire/arp.hpp"
#include "proto/wire/ethernet.hpp"

namespace coronet::io {

memory_link::memory_link(std::uint64_t seed) : rng_(seed) {}

void memory_link::drop_next(link_dir d, int n) { dirs_[idx(d)].drop_next = std::max(0, n); }
void memory_link::set_loss(link_dir d, double p) { dirs_[idx(d)].loss = p; }
void memory_link::set_duplicate(link_dir d, double p) { dirs_[idx(d)].duplicate = p; }
void memory_link::set_delay(link_dir d, duration delay) { dirs_[idx(d)].delay = delay; }
void memory_link::reorder_next(link_dir d, int k) { dirs_[idx(d)].reorder_k = std::max(0, k); }
void memory_link::set_filter(link_dir d, filter_fn f) { dirs_[idx(d)].filter = std::move(f); }

void memory_link::release_held(link_dir d, time_point now) {
  auto& dir = dirs_[idx(d)];
  if (!dir.held) return;
  queued f = std::move(*dir.held);
  dir.held.reset();
  dir.held_left = 0;
  f.at = std::max(f.at, now);
  enqueue(dir, std::move(f));
}

// 53 random bits -> [0, 1). Written out rather than using
// uniform_real_distribution, whose output differs between standard libraries.
double memory_link::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

void memory_link::enqueue(direction& dir, queued f) {
  auto pos = std::upper_bound(dir.q.begin(), dir.q.end(), f, [](const queued& a, const queued& b) {
    return a.at != b.at ? a.at < b.at : a.order < b.order;
  });
  dir.q.insert(pos, std::move(f));
}

void memory_link::send(link_dir d, bytes frame, time_point now) {
  auto& dir = dirs_[idx(d)];
  ++dir.stats.sent;

  bool lost = false;
  if (dir.drop_next > 0) {
    --dir.drop_next;
    lost = true;
  } else if (dir.filter && dir.filter(frame)) {
    lost = true;
  } else if (dir.loss > 0 && uniform() < dir.loss) {
    lost = true;
  }
  record(d, frame, now, lost);
  if (lost) {
    ++dir.stats.dropped;
    return;
  }

  queued f{now + dir.delay, order_++, std::vector<std::uint8_t>(frame.begin(), frame.end())};
  bool dup = dir.duplicate > 0 && uniform() < dir.duplicate;

  if (dir.reorder_k > 0 && !dir.held) {
    dir.held_left = dir.reorder_k;
    dir.reorder_k = 0;
    dir.held = std::move(f);
    // A duplicate of a held frame travels on time: the copy overtakes.
  } else {
    enqueue(dir, f);
    if (dir.held && --dir.held_left == 0) {
      queued h = std::move(*dir.held);
      dir.held.reset();
      h.at = std::max(h.at, f.at);
      h.order = order_++;
      enqueue(dir, std::move(h));
    }
    if (!dup) return;
  }
  if (dup) {
    ++dir.stats.duplicated;
    enqueue(dir, queued{now + dir.delay, order_++, std::vector<std::uint8_t>(frame.begin(), frame.end())});
  }
}

std::optional<time_point> memory_link::next_delivery() const {
  std::optional<time_point> t;
  for (const auto& dir : dirs_) {
    if (!dir.q.empty() && (!t || dir.q.front().at < *t)) t = dir.q.front().at;
  }
  return t;
}

bool memory_link::pop(link_dir d, time_point now, std::vector<std::uint8_t>& out) {
  auto& dir = dirs_[idx(d)];
  if (dir.q.empty() || dir.q.front().at > now) return false;
  out = std::move(dir.q.front().data);
  dir.q.erase(dir.q.begin());
  ++dir.stats.delivered;
  return true;
}

std::size_t memory_link::in_flight(link_dir d) const {
  const auto& dir = dirs_[idx(d)];
  return dir.q.size() + (dir.held ? 1 : 0);
}

std::size_t memory_link::count(link_dir d, std::uint8_t flags, std::uint8_t mask) const {
  std::size_t n = 0;
  for (const auto& s : seen_) {
    if (s.dir == d && (s.tcp.flags & mask) == flags) ++n;
  }
  return n;
}

std::size_t memory_link::count_arp(link_dir d, std::uint16_t op) const {
  return op < 3 ? dirs_[idx(d)].arp_ops[op] : 0;
}

void memory_link::record(link_dir d, bytes frame, time_point now, bool dropped) {
  auto eth = wire::ethernet_view::parse(frame);
  if (!eth) return;
  if (eth->header().type == static_cast<std::uint16_t>(wire::ethertype::arp)) {
    auto arp = wire::parse_arp(eth->payload());
    if (arp) ++dirs_[idx(d)].arp_ops[static_cast<std::uint16_t>(arp->op)];
    return;
  }
  auto ip = wire::ipv4_view::parse(eth->payload());
  if (!ip || ip->header().proto != static_cast<std::uint8_t>(wire::ip_proto::tcp)) return;
  auto h = ip->header();
  auto tcp = wire::tcp_view::parse(ip->payload(), h.src, h.dst, false);
  if (!tcp) return;
  seen_.push_back(seen_segment{now, d, h.src, h.dst, tcp->header(), tcp->payload().size(), dropped});
}

std::optional<memory_link::frame_segment> memory_link::segment_of(bytes frame) {
  auto eth = wire::ethernet_view::parse(frame);
  if (!eth || eth->header().type != static_cast<std::uint16_t>(wire::ethertype::ipv4)) return std::nullopt;
  auto ip = wire::ipv4_view::parse(eth->payload());
  if (!ip || ip->header().proto != static_cast<std::uint8_t>(wire::ip_proto::tcp)) return std::nullopt;
  auto tcp = wire::tcp_view::parse(ip->payload(), ip->header().src, ip->header().dst, false);
  if (!tcp) return std::nullopt;
  return frame_segment{tcp->header(), tcp->payload().size()};
}

std::optional<wire::tcp_header> memory_link::tcp_of(bytes frame) {
  auto s = segment_of(frame);
  if (!s) return std::nullopt;
  return s->h;
}

bool memory_link::is_tcp(bytes frame, std::uint8_t want, std::uint8_t mask) {
  auto h = tcp_of(frame);
  return h && (h->flags & mask) == want;
}

}  // namespace coronet::io
