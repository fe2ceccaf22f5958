// proto/ipv4_reassembly.cpp - IPv4 reassembly (RFC 791 3.2, RFC 1122 3.3.2),
// following Linux's net/ipv4/ip_fragment.c and net/ipv4/inet_fragment.c.
//
// Which drop reason counts what (exactly one per datagram or fragment given
// up, so counters::total_drops() stays a count of things discarded; Linux's
// IpReasmFails would be the sum of all four):
//   IpReasmFails       a datagram given up for a bad fragment (no data, a
//                      non-final length not a multiple of 8, a second end,
//                      data past the end, too many holes), or a fragment
//                      dropped because no slot is free
//   IpExtReasmOverlaps a fragment overlapping data already held: the whole
//                      datagram is dropped (Linux inet_frag_queue_insert()
//                      since 4.19, RFC 5722's rule brought to IPv4)
//   IpReasmOversize    header plus data past 65535 bytes
//   IpReasmTimeout     not complete ipfrag_time after its first fragment
// A fragment lying wholly inside data already held is a duplicate (Linux
// IPFRAG_DUP): it is dropped, the datagram kept, and nothing counted but
// IpReasmReqds, as Linux counts no MIB for it. Its bytes are not compared:
// the first copy wins.
#include "proto/ipv4_reassembly.hpp"

#include <algorithm>
#include <cassert>

namespace coronet {

namespace {

constexpr std::uint16_t flag_mf = 0x2000;  // RFC 791 3.1: Flags bit 2, More Fragments
constexpr std::uint16_t fragment_offset_mask = 0x1fff;
constexpr std::size_t header_room = wire::ipv4_min_header_len;  // the synthetic header's place in a slot

struct fragment_fields {
  std::size_t offset = 0;  // bytes
  bool more = false;
};

// ipv4_view checked the whole header but exposes no flags word: read it back
// from the header that precedes the payload in the same packet.
fragment_fields fields_of(const wire::ipv4_view& v) {
  const std::uint8_t* header = v.payload().data() - v.header_len();
  const std::uint16_t w = load_be16(header + 6);
  return {static_cast<std::size_t>(w & fragment_offset_mask) * 8, (w & flag_mf) != 0};  // offset in 8-octet units
}

}  // namespace

std::size_t ipv4_reassembly::bytes_per_slot() { return max_datagram + sizeof(slot); }

// Linux counts sizeof(struct ipq) plus the fragments' truesize against
// ipfrag_high_thresh; a slot here costs its whole buffer from the start.
ipv4_reassembly::ipv4_reassembly(const settings& s, counters& stats)
    : timeout_(std::chrono::duration_cast<duration>(s.ipfrag_time)), stats_(stats) {
  const std::size_t thresh = s.ipfrag_high_thresh > 0 ? static_cast<std::size_t>(s.ipfrag_high_thresh) : 0;
  slots_.resize(thresh / bytes_per_slot());  // buffers come later, one per slot on first use
}

std::optional<wire::ipv4_view> ipv4_reassembly::add(const wire::ipv4_view& frag, time_point now) {
  stats_.bump(counter::ip_reasm_reqds);  // RFC 4293 ipSystemStatsReasmReqds: every fragment
  on_timer(now);  // a datagram past its time is gone even if the caller's timer is late
  const wire::ipv4_header h = frag.header();
  const key k{h.src, h.dst, h.proto, h.id};  // RFC 791 3.2
  const fragment_fields f = fields_of(frag);
  const std::size_t len = frag.payload().size();
  const std::size_t end = f.offset + len;
  slot* s = find(k);
  auto reject = [&](drop why) -> std::optional<wire::ipv4_view> {
    if (s) {
      give_up(*s, why);
    } else {
      stats_.bump(why);
    }
    return std::nullopt;
  };

  // Linux ip_frag_reasm() refuses header + data over 65535 (out_oversize);
  // checked per fragment here, so nothing is ever copied past a slot's buffer.
  if (end + frag.header_len() > max_datagram) return reject(drop::ipv4_reasm_oversize);
  // Linux ip_frag_queue(): a fragment carrying no data (end == offset) kills the queue.
  if (len == 0) return reject(drop::ipv4_reasm_fails);
  // RFC 791 3.2: every fragment but the last carries a multiple of 8 octets.
  // (Linux trims such a fragment down to a multiple of 8; coronet drops the
  // datagram: a sender doing that is broken or probing.)
  if (f.more && len % 8 != 0) return reject(drop::ipv4_reasm_fails);

  if (!s) s = claim(k, now);
  // Linux inet_frag_find(): over ipfrag_high_thresh no queue is found or made,
  // and ip_defrag() drops the fragment (IpReasmFails). Linux stopped evicting
  // old queues in 4.17 (ipfrag_low_thresh is obsolete): the held ones wait
  // for their timeout, and so does coronet.
  if (!s) return reject(drop::ipv4_reasm_fails);

  // Linux ip_frag_queue(): the end each fragment implies must agree.
  if (!f.more) {
    // The last fragment: nothing held beyond it, and only one end.
    if (end < s->len || (s->last_in && end != s->len)) return reject(drop::ipv4_reasm_fails);
    s->last_in = true;
    s->len = static_cast<std::uint16_t>(end);
  } else if (end > s->len) {
    if (s->last_in) return reject(drop::ipv4_reasm_fails);  // data past the end
    s->len = static_cast<std::uint16_t>(end);
  }

  switch (insert(*s, range{static_cast<std::uint16_t>(f.offset), static_cast<std::uint16_t>(end)})) {
    case insert_result::ok: break;
    case insert_result::duplicate: return std::nullopt;
    case insert_result::overlap: return reject(drop::ipv4_reasm_overlaps);
    case insert_result::no_room: return reject(drop::ipv4_reasm_fails);
  }
  bytes data = frag.payload();
  std::copy(data.begin(), data.end(), s->buf.begin() + static_cast<std::ptrdiff_t>(header_room + f.offset));
  // RFC 791 3.2: the reassembled header is the first fragment's.
  if (f.offset == 0) {
    s->tos = h.tos;
    s->ttl = h.ttl;
  }
  if (!complete(*s)) return std::nullopt;
  return finish(*s);
}

// RFC 1122 3.3.2 wants an ICMP Time Exceeded (code 1) sent when fragment zero
// had arrived (Linux ip_expire()); coronet sends no ICMP errors and only counts.
void ipv4_reassembly::on_timer(time_point now) {
  if (live_ == 0) return;
  for (slot& s : slots_) {
    if (s.in_use && s.expires <= now) give_up(s, drop::ipv4_reasm_timeout);
  }
}

// Asked every loop iteration: nothing to scan in the usual case.
std::optional<time_point> ipv4_reassembly::next_deadline() const {
  if (live_ == 0) return std::nullopt;
  std::optional<time_point> t;
  for (const slot& s : slots_) {
    if (s.in_use && (!t || s.expires < *t)) t = s.expires;
  }
  return t;
}

// A linear scan: the default threshold makes 63 slots.
ipv4_reassembly::slot* ipv4_reassembly::find(const key& k) {
  if (live_ == 0) return nullptr;
  for (slot& s : slots_) {
    if (s.in_use && s.k == k) return &s;
  }
  return nullptr;
}

// The first free slot, so the low slots, whose buffers exist, are reused first.
// The timer runs from the first fragment and is not restarted by later ones
// (Linux inet_frag_create() arms it once with ipfrag_time).
ipv4_reassembly::slot* ipv4_reassembly::claim(const key& k, time_point now) {
  for (slot& s : slots_) {
    if (s.in_use) continue;
    if (s.buf.empty()) s.buf.resize(max_datagram);  // once per slot, for its lifetime
    s.in_use = true;
    ++live_;
    s.k = k;
    s.expires = now + timeout_;
    s.len = 0;
    s.last_in = false;
    s.tos = s.ttl = 0;
    s.nranges = 0;
    return &s;
  }
  return nullptr;
}

void ipv4_reassembly::give_up(slot& s, drop why) {
  s.in_use = false;
  --live_;
  stats_.bump(why);
}

// RFC 815 keeps holes; this keeps their complement, the received ranges,
// sorted and merged, which is the same list turned inside out. A fragment
// inside one range is a duplicate; one cutting into any range overlaps.
ipv4_reassembly::insert_result ipv4_reassembly::insert(slot& s, range r) {
  std::size_t i = 0;
  for (; i < s.nranges; ++i) {
    const range& c = s.ranges[i];
    if (r.end <= c.begin) break;  // r lies before c, and before every later range
    if (r.begin >= c.begin && r.end <= c.end) return insert_result::duplicate;
    if (r.begin < c.end) return insert_result::overlap;
  }
  const bool join_prev = i > 0 && s.ranges[i - 1].end == r.begin;
  const bool join_next = i < s.nranges && s.ranges[i].begin == r.end;
  if (join_prev && join_next) {  // r fills the hole between two ranges
    s.ranges[i - 1].end = s.ranges[i].end;
    std::copy(s.ranges.begin() + static_cast<std::ptrdiff_t>(i + 1), s.ranges.begin() + s.nranges,
              s.ranges.begin() + static_cast<std::ptrdiff_t>(i));
    --s.nranges;
  } else if (join_prev) {
    s.ranges[i - 1].end = r.end;
  } else if (join_next) {
    s.ranges[i].begin = r.begin;
  } else {
    if (s.nranges == max_ranges) return insert_result::no_room;
    std::copy_backward(s.ranges.begin() + static_cast<std::ptrdiff_t>(i), s.ranges.begin() + s.nranges,
                       s.ranges.begin() + s.nranges + 1);
    s.ranges[i] = r;
    ++s.nranges;
  }
  return insert_result::ok;
}

// RFC 815: no hole left once the last fragment has fixed the length.
bool ipv4_reassembly::complete(const slot& s) {
  return s.last_in && s.nranges == 1 && s.ranges[0].begin == 0 && s.ranges[0].end == s.len;
}

// Writes the synthetic header in front of the payload and frees the slot; its
// buffer is left alone until claim() hands it out again, so the view returned
// stays good until the next add() (which claims) or on_timer() (which only
// frees).
std::optional<wire::ipv4_view> ipv4_reassembly::finish(slot& s) {
  s.in_use = false;
  --live_;
  wire::ipv4_header h;
  h.src = s.k.src;
  h.dst = s.k.dst;
  h.proto = s.k.proto;
  h.id = s.k.id;
  h.tos = s.tos;
  h.ttl = s.ttl;
  h.dont_fragment = false;
  h.payload_len = s.len;
  mut_bytes out(s.buf.data(), header_room + s.len);
  const std::size_t n = wire::emit(h, out);  // MF clear, offset 0, checksum filled
  assert(n == header_room);
  auto v = wire::ipv4_view::parse(out);
  if (n != header_room || !v) {  // cannot happen: len <= 65515 was checked per fragment
    stats_.bump(drop::ipv4_reasm_fails);
    return std::nullopt;
  }
  stats_.bump(counter::ip_reasm_oks);
  return *v;
}

}  // namespace coronet
