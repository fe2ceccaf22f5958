// proto/arp/neighbor_cache.hpp - the IPv4 neighbour table: which MAC answers
// for which on-link address, resolution timers, and the frames waiting for a
// resolution to finish. Modelled on Linux's neighbour subsystem
// (net/core/neighbour.c) with fewer states: incomplete, reachable, stale (a
// reachable entry past its lifetime, still used while it is re-probed) and
// failed.
// A pure data structure: it sends nothing itself. The engine asks it what to
// do with a frame (resolve), stores frames in it while unresolved (reserve /
// commit), feeds it ARP news (update), and calls on_timer with hooks that
// send the ARP requests and report failures. Frame storage is a pool
// preallocated at construction; nothing is allocated per frame.
// Single-threaded; never reads a clock: callers pass `now`.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "proto/settings.hpp"
#include "proto/types.hpp"

namespace coronet::arp {

enum class neigh_state : std::uint8_t {
  incomplete,  // resolution in progress, frames queue up
  reachable,   // MAC known and fresh
  stale,       // MAC known, lifetime over: used, and re-probed on the next send
  probe,       // stale entry being re-probed; MAC still used
  failed,      // resolution gave up; the next send starts over
};
const char* to_string(neigh_state);

struct neighbor_limits {
  duration retrans_time{std::chrono::seconds(1)};    // neigh.default.retrans_time_ms
  int mcast_solicit = 3;                              // neigh.default.mcast_solicit
  duration reachable_time{std::chrono::seconds(30)};  // neigh.default.base_reachable_time_ms
  int unres_qlen = 101;                               // neigh.default.unres_qlen
  std::size_t pool_frames = 256;     // frames queued over all neighbours together
  std::size_t frame_capacity = 1514; // bytes per queued frame
  std::size_t max_entries = 1024;    // Linux gc_thresh3
  static neighbor_limits from(const settings& s, std::size_t frame_capacity);
};

class neighbor_cache {
 public:
  explicit neighbor_cache(const neighbor_limits& lim);
  neighbor_cache(const neighbor_cache&) = delete;  // holds a pointer into its own table
  neighbor_cache& operator=(const neighbor_cache&) = delete;

  // What to do with a frame for `ip`.
  struct decision {
    bool send_now = false;       // true: use `mac`; false: queue the frame (reserve/commit)
    mac_addr mac;
    bool send_request = false;   // also broadcast an ARP request for `ip` now
  };
  // Starts resolution for an unknown or failed entry, starts a re-probe for a
  // stale one. Never fails (a full table answers as incomplete, without
  // creating an entry: the frame then fails to queue).
  // Inline for the common case: the neighbour last asked for, still reachable.
  decision resolve(ipv4_addr ip, time_point now) {
    if (hot_ != nullptr && hot_ip_ == ip && hot_->state == neigh_state::reachable && now < hot_->expires)
      return {true, hot_->mac, false};
    return resolve_slow(ip, now);
  }

  // Frame storage for an unresolved `ip`: a buffer of frame_capacity bytes, or
  // an empty span when the neighbour already holds unres_qlen frames, the pool
  // is empty or `ip` is not incomplete. commit() appends the reserved buffer,
  // with its length, to the neighbour's queue (FIFO); a reservation not
  // committed is simply forgotten. Nothing may touch the cache in between.
  mut_bytes reserve(ipv4_addr ip);
  void commit(ipv4_addr ip, std::size_t len);

  // ARP said `ip` is at `mac`. RFC 826 merge rule: an existing entry is
  // updated; a new one is created only when `create` (we were the target).
  // Returns true when an entry exists afterwards (now reachable); its queued
  // frames are then ready for drain().
  bool update(ipv4_addr ip, mac_addr mac, time_point now, bool create);

  // Hands every frame queued for `ip`, oldest first, to f(mut_bytes frame),
  // and frees them. `f` must not call back into the cache.
  template <class F>
  void drain(ipv4_addr ip, F&& f);

  // Things a timer can make the engine do.
  class hooks {
   public:
    virtual ~hooks() = default;
    // Broadcast another ARP request for `ip`.
    virtual void send_request(ipv4_addr ip) = 0;
    // A frame queued for `ip` is being thrown away (resolution failed); called
    // during the table walk, so it must not call back into the cache.
    virtual void discarded(ipv4_addr ip, bytes frame) = 0;
    // Resolution of `ip` gave up (after its frames were discarded).
    virtual void failed(ipv4_addr ip) = 0;
  };
  // Retries due probes (every retrans_time, mcast_solicit requests in all)
  // and fails entries that used them up. failed() hooks run after the table
  // walk, so they may call back into the cache.
  void on_timer(time_point now, hooks& h);
  std::optional<time_point> next_deadline() const;
  bool has_timers() const { return timers_ != 0; }  // next_deadline() has an answer

  // --- inspection ---
  struct entry_info {
    neigh_state state;
    std::optional<mac_addr> mac;
    int probes = 0;           // requests sent in the current resolution
    std::size_t queued = 0;   // frames waiting
  };
  std::optional<entry_info> find(ipv4_addr ip, time_point now) const;
  std::size_t size() const { return table_.size(); }
  std::size_t pool_free() const { return free_count_; }
  const neighbor_limits& limits() const { return lim_; }

 private:
  static constexpr std::int32_t none = -1;
  struct entry {
    neigh_state state = neigh_state::incomplete;
    bool has_mac = false;
    mac_addr mac;
    int probes = 0;
    time_point timer{};       // next probe (incomplete/probe)
    time_point expires{};     // end of reachable lifetime
    std::int32_t head = none, tail = none;
    int qlen = 0;
  };
  struct ipv4_hash {
    std::size_t operator()(ipv4_addr a) const { return absl::Hash<std::uint32_t>{}(a.value); }
  };
  decision resolve_slow(ipv4_addr ip, time_point now);
  void start_probe(entry& e, neigh_state s, time_point now);
  std::size_t free_queue(entry& e, ipv4_addr ip, hooks* h);
  mut_bytes slot(std::int32_t i) {
    return mut_bytes(pool_.data() + static_cast<std::size_t>(i) * lim_.frame_capacity, lim_.frame_capacity);
  }

  neighbor_limits lim_;
  absl::flat_hash_map<ipv4_addr, entry, ipv4_hash> table_;
  std::vector<std::uint8_t> pool_;        // pool_frames * frame_capacity
  std::vector<std::int32_t> next_;        // per slot: next in queue / free list
  std::vector<std::uint32_t> len_;        // per slot: committed length
  std::int32_t free_head_ = none;
  std::size_t free_count_ = 0;
  int timers_ = 0;                        // entries in incomplete/probe (have a timer)
  std::vector<ipv4_addr> failed_scratch_;
  // resolve()'s last entry. Entries are never erased, but an insert may move
  // them all: every emplace forgets it.
  ipv4_addr hot_ip_{};
  entry* hot_ = nullptr;
};

template <class F>
void neighbor_cache::drain(ipv4_addr ip, F&& f) {
  auto it = table_.find(ip);
  if (it == table_.end()) return;
  entry& e = it->second;
  while (e.head != none) {
    std::int32_t i = e.head;
    e.head = next_[static_cast<std::size_t>(i)];
    --e.qlen;
    f(slot(i).first(len_[static_cast<std::size_t>(i)]));
    next_[static_cast<std::size_t>(i)] = free_head_;
    free_head_ = i;
    ++free_count_;
  }
  e.tail = none;
}

}  // namespace coronet::arp
