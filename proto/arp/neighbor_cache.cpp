#include "proto/arp/neighbor_cache.hpp"

#include <algorithm>

namespace coronet::arp {

const char* to_string(neigh_state s) {
  switch (s) {
    case neigh_state::incomplete: return "incomplete";
    case neigh_state::reachable: return "reachable";
    case neigh_state::stale: return "stale";
    case neigh_state::probe: return "probe";
    case neigh_state::failed: return "failed";
  }
  return "?";
}

neighbor_limits neighbor_limits::from(const settings& s, std::size_t frame_capacity) {
  neighbor_limits l;
  l.retrans_time = s.neigh_retrans_time;
  l.mcast_solicit = s.neigh_mcast_solicit;
  l.reachable_time = s.neigh_base_reachable_time;
  l.unres_qlen = s.neigh_unres_qlen;
  // Room for two full per-neighbour queues, within [16, 1024] frames.
  l.pool_frames = std::clamp<std::size_t>(2 * static_cast<std::size_t>(std::max(0, s.neigh_unres_qlen)), 16, 1024);
  l.frame_capacity = frame_capacity;
  return l;
}

neighbor_cache::neighbor_cache(const neighbor_limits& lim)
    : lim_(lim),
      pool_(lim.pool_frames * lim.frame_capacity),
      next_(lim.pool_frames),
      len_(lim.pool_frames) {
  // Free list threads every slot, lowest index first.
  for (std::size_t i = 0; i < lim_.pool_frames; ++i) {
    next_[i] = i + 1 < lim_.pool_frames ? static_cast<std::int32_t>(i + 1) : none;
  }
  free_head_ = lim_.pool_frames ? 0 : none;
  free_count_ = lim_.pool_frames;
  table_.reserve(16);
  failed_scratch_.reserve(16);
}

static bool has_timer(neigh_state s) { return s == neigh_state::incomplete || s == neigh_state::probe; }

// Linux neigh_probe()/__neigh_event_send(): the first request goes out at
// once, the next ones every retrans_time.
void neighbor_cache::start_probe(entry& e, neigh_state s, time_point now) {
  if (!has_timer(e.state)) ++timers_;
  e.state = s;
  e.probes = 1;
  e.timer = now + lim_.retrans_time;
  if (s == neigh_state::incomplete) e.has_mac = false;
}

neighbor_cache::decision neighbor_cache::resolve_slow(ipv4_addr ip, time_point now) {
  auto it = table_.find(ip);
  if (it == table_.end()) {
    if (table_.size() >= lim_.max_entries) return {};
    hot_ = nullptr;
    it = table_.emplace(ip, entry{}).first;
    it->second.state = neigh_state::failed;  // no timer yet; start_probe counts it
    start_probe(it->second, neigh_state::incomplete, now);
    return {false, {}, true};
  }
  entry& e = it->second;
  hot_ip_ = ip;
  hot_ = &e;
  switch (e.state) {
    case neigh_state::failed:
      // Linux __neigh_event_send(): a send to a FAILED entry restarts resolution.
      start_probe(e, neigh_state::incomplete, now);
      return {false, {}, true};
    case neigh_state::incomplete:
      return {};
    case neigh_state::reachable:
      if (now < e.expires) return {true, e.mac, false};
      [[fallthrough]];  // lifetime over: stale
    case neigh_state::stale:
      // Like Linux's STALE -> PROBE (without the DELAY step): keep using the
      // old MAC while asking again.
      start_probe(e, neigh_state::probe, now);
      return {true, e.mac, true};
    case neigh_state::probe:
      return {true, e.mac, false};
  }
  return {};
}

mut_bytes neighbor_cache::reserve(ipv4_addr ip) {
  auto it = table_.find(ip);
  if (it == table_.end() || it->second.state != neigh_state::incomplete) return {};
  if (it->second.qlen >= lim_.unres_qlen || free_head_ == none) return {};
  return slot(free_head_);
}

void neighbor_cache::commit(ipv4_addr ip, std::size_t len) {
  auto it = table_.find(ip);
  if (it == table_.end() || free_head_ == none || len > lim_.frame_capacity) return;
  entry& e = it->second;
  std::int32_t i = free_head_;
  auto ui = static_cast<std::size_t>(i);
  free_head_ = next_[ui];
  --free_count_;
  next_[ui] = none;
  len_[ui] = static_cast<std::uint32_t>(len);
  if (e.tail == none) {
    e.head = i;
  } else {
    next_[static_cast<std::size_t>(e.tail)] = i;
  }
  e.tail = i;
  ++e.qlen;
}

// RFC 826 "Packet Reception": if the sender's protocol address is already in
// the table, its hardware address is updated (merge); only if we are the
// target is a new entry added.
bool neighbor_cache::update(ipv4_addr ip, mac_addr mac, time_point now, bool create) {
  auto it = table_.find(ip);
  if (it == table_.end()) {
    if (!create || table_.size() >= lim_.max_entries) return false;
    hot_ = nullptr;
    it = table_.emplace(ip, entry{}).first;
    it->second.state = neigh_state::failed;
  }
  entry& e = it->second;
  if (has_timer(e.state)) --timers_;
  e.state = neigh_state::reachable;
  e.mac = mac;
  e.has_mac = true;
  e.probes = 0;
  e.expires = now + lim_.reachable_time;
  return true;
}

std::size_t neighbor_cache::free_queue(entry& e, ipv4_addr ip, hooks* h) {
  std::size_t n = 0;
  while (e.head != none) {
    std::int32_t i = e.head;
    auto ui = static_cast<std::size_t>(i);
    if (h) h->discarded(ip, slot(i).first(len_[ui]));
    e.head = next_[ui];
    next_[ui] = free_head_;
    free_head_ = i;
    ++free_count_;
    ++n;
  }
  e.tail = none;
  e.qlen = 0;
  return n;
}

// Linux neigh_timer_handler(): while probes remain, send another request
// every retrans_time; after mcast_solicit requests the entry fails and its
// queued frames are discarded (neigh_invalidate()).
void neighbor_cache::on_timer(time_point now, hooks& h) {
  if (timers_ == 0) return;
  failed_scratch_.clear();
  for (auto& [ip, e] : table_) {
    if (!has_timer(e.state) || e.timer > now) continue;
    if (e.probes < lim_.mcast_solicit) {
      ++e.probes;
      e.timer = now + lim_.retrans_time;
      h.send_request(ip);
    } else {
      --timers_;
      e.state = neigh_state::failed;
      e.has_mac = false;
      free_queue(e, ip, &h);
      failed_scratch_.push_back(ip);
    }
  }
  // Reported after the walk: a failure hook may resolve() again, which can
  // insert into the table.
  for (auto ip : failed_scratch_) h.failed(ip);
  failed_scratch_.clear();
}

std::optional<time_point> neighbor_cache::next_deadline() const {
  if (timers_ == 0) return std::nullopt;
  std::optional<time_point> t;
  for (const auto& [ip, e] : table_) {
    if (has_timer(e.state) && (!t || e.timer < *t)) t = e.timer;
  }
  return t;
}

std::optional<neighbor_cache::entry_info> neighbor_cache::find(ipv4_addr ip, time_point now) const {
  auto it = table_.find(ip);
  if (it == table_.end()) return std::nullopt;
  const entry& e = it->second;
  entry_info info;
  info.state = e.state;
  if (e.state == neigh_state::reachable && now >= e.expires) info.state = neigh_state::stale;
  if (e.has_mac) info.mac = e.mac;
  info.probes = e.probes;
  info.queued = static_cast<std::size_t>(e.qlen);
  return info;
}

}  // namespace coronet::arp
