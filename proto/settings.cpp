// proto/settings.cpp - the knob table behind settings::set() and settings::list().
// Names and value syntax follow sysctl(8). Ranges follow the kernel's proc
// handlers where those bound the value; elsewhere they exclude what coronet
// cannot use (a backlog of 0 entries, a 0 ms timer). set() never throws: a bad
// name or value comes back as a message and leaves the settings unchanged.
#include "proto/settings.hpp"

#include <charconv>
#include <climits>
#include <cstdint>
#include <optional>
#include <string>

namespace coronet {

namespace {

using ms = settings::ms;

enum class kind {
  integer,     // a number in [min, max]
  boolean,     // 0 or 1
  millis,      // a duration field set in milliseconds, [min, max]
  seconds,     // a duration field set in seconds (Linux's unit for that sysctl), [min, max]
  port_range,  // "LOW HIGH", 1..65535, LOW <= HIGH
  mem_triple,  // "MIN DEFAULT MAX" (or one number): the default and the max are kept
  choice,      // one of a fixed list of names (tcp_congestion_control)
};

struct knob {
  std::string_view name;
  kind k;
  int settings::*i = nullptr;
  bool settings::*b = nullptr;
  ms settings::*d = nullptr;
  std::int64_t min = 0, max = 0;
  std::string_view help;
  int settings::*i_max = nullptr;       // mem_triple: where the third value goes
  std::string settings::*str = nullptr;  // choice
  std::string_view choices;             // choice: space separated
};

constexpr std::int64_t int_max = INT_MAX;

constexpr knob int_knob(std::string_view n, int settings::*f, std::int64_t lo, std::int64_t hi, std::string_view h) {
  knob k{};
  k.name = n, k.k = kind::integer, k.i = f, k.min = lo, k.max = hi, k.help = h;
  return k;
}
constexpr knob bool_knob(std::string_view n, bool settings::*f, std::string_view h) {
  knob k{};
  k.name = n, k.k = kind::boolean, k.b = f, k.min = 0, k.max = 1, k.help = h;
  return k;
}
constexpr knob ms_knob(std::string_view n, ms settings::*f, std::int64_t lo, std::int64_t hi, std::string_view h) {
  knob k{};
  k.name = n, k.k = kind::millis, k.d = f, k.min = lo, k.max = hi, k.help = h;
  return k;
}
constexpr knob sec_knob(std::string_view n, ms settings::*f, std::int64_t lo, std::int64_t hi, std::string_view h) {
  knob k = ms_knob(n, f, lo, hi, h);
  k.k = kind::seconds;
  return k;
}
constexpr knob mem_knob(std::string_view n, int settings::*def, int settings::*max, std::string_view h) {
  knob k = int_knob(n, def, 1, int_max, h);
  k.k = kind::mem_triple;
  k.i_max = max;
  return k;
}
constexpr knob choice_knob(std::string_view n, std::string settings::*f, std::string_view choices, std::string_view h) {
  knob k{};
  k.name = n, k.k = kind::choice, k.str = f, k.choices = choices, k.help = h;
  return k;
}
constexpr knob port_range_knob(std::string_view n, std::string_view h) {
  knob k{};
  k.name = n, k.k = kind::port_range, k.min = 1, k.max = 65535, k.help = h;
  return k;
}

// In the declaration order of `settings`. Ranges cite their source where one exists.
constexpr knob table[] = {
    // Linux caps tcp_syn_retries at 127 (MAX_TCP_SYNCNT); coronet allows 0 so
    // a test can fail a connect after the first SYN.
    int_knob("net.ipv4.tcp_syn_retries", &settings::tcp_syn_retries, 0, 255,
             "SYN retransmissions before connect() times out"),
    int_knob("net.ipv4.tcp_synack_retries", &settings::tcp_synack_retries, 0, 255,
             "SYN-ACK retransmissions before a half-open entry is dropped"),
    int_knob("net.ipv4.tcp_max_syn_backlog", &settings::tcp_max_syn_backlog, 1, int_max,
             "SYN queue capacity per listener"),
    int_knob("net.core.somaxconn", &settings::somaxconn, 1, int_max, "accept queue capacity (caps listen backlog)"),
    bool_knob("net.ipv4.tcp_syncookies", &settings::tcp_syncookies, "send SYN cookies when the SYN queue overflows"),
    bool_knob("net.ipv4.tcp_abort_on_overflow", &settings::tcp_abort_on_overflow,
              "answer the final ACK with RST (not a silent drop) when the accept queue is full"),
    port_range_knob("net.ipv4.ip_local_port_range", "ephemeral ports for connect(), \"LOW HIGH\""),
    ms_knob("coronet.tcp_rto_initial_ms", &settings::tcp_rto_initial, 1, int_max,
            "initial retransmission timeout (Linux TCP_TIMEOUT_INIT, RFC 6298 2.1)"),
    ms_knob("coronet.tcp_rto_max_ms", &settings::tcp_rto_max, 1, int_max,
            "upper bound of the backed-off RTO (Linux TCP_RTO_MAX)"),
    bool_knob("net.ipv4.tcp_timestamps", &settings::tcp_timestamps, "offer timestamps (RFC 7323)"),
    bool_knob("net.ipv4.tcp_window_scaling", &settings::tcp_window_scaling, "offer window scaling (RFC 7323)"),
    bool_knob("net.ipv4.tcp_sack", &settings::tcp_sack, "offer SACK (RFC 2018)"),
    mem_knob("net.ipv4.tcp_rmem", &settings::tcp_rmem, &settings::tcp_rmem_max,
             "receive buffer bytes (the middle of Linux's \"MIN DEFAULT MAX\"; coronet does not autotune it)"),
    mem_knob("net.ipv4.tcp_wmem", &settings::tcp_wmem, &settings::tcp_wmem_max,
             "send buffer bytes at the start, growing with cwnd up to MAX (Linux's \"MIN DEFAULT MAX\")"),
    ms_knob("coronet.tcp_rto_min_ms", &settings::tcp_rto_min, 1, int_max,
            "lower bound of the RTO (Linux TCP_RTO_MIN)"),
    int_knob("net.ipv4.tcp_retries2", &settings::tcp_retries2, 0, 255,
             "data retransmissions before an established connection is dropped"),
    // Linux proc_dointvec_jiffies caps at INT_MAX / HZ; INT_MAX / 1000 keeps
    // the millisecond value in an int as well.
    sec_knob("net.ipv4.tcp_fin_timeout", &settings::tcp_fin_timeout, 1, int_max / 1000, "FIN-WAIT-2 lifetime in seconds"),
    ms_knob("coronet.tcp_time_wait_ms", &settings::tcp_time_wait, 1, int_max,
            "TIME-WAIT duration (Linux TCP_TIMEWAIT_LEN)"),
    choice_knob("net.ipv4.tcp_congestion_control", &settings::tcp_congestion_control, "cubic reno",
                "congestion control of new connections (RFC 9438 cubic, RFC 5681/6582 reno)"),
    int_knob("coronet.tcp_init_cwnd", &settings::tcp_init_cwnd, 1, 1000,
             "initial congestion window in segments (Linux TCP_INIT_CWND, RFC 6928)"),
    // Linux bounds tcp_reordering by tcp_max_reordering (300).
    int_knob("net.ipv4.tcp_reordering", &settings::tcp_reordering, 1, 300,
             "duplicate ACKs that start fast retransmit (RFC 5681 3.2)"),
    int_knob("net.ipv4.tcp_recovery", &settings::tcp_recovery, 0, 1, "1: RACK loss detection (RFC 8985)"),
    int_knob("net.ipv4.tcp_early_retrans", &settings::tcp_early_retrans, 0, 4,
             "3 or 4: tail loss probes (RFC 8985 7); 0..2: none"),
    bool_knob("net.ipv4.tcp_dsack", &settings::tcp_dsack, "report duplicate segments with D-SACK (RFC 2883)"),
    bool_knob("net.ipv4.tcp_slow_start_after_idle", &settings::tcp_slow_start_after_idle,
              "restart from the initial window after an idle RTO (RFC 5681 4.1)"),
    ms_knob("coronet.tcp_delack_ms", &settings::tcp_delack, 1, 200,
            "delayed-ACK timer (Linux TCP_DELACK_MIN .. TCP_DELACK_MAX)"),
    int_knob("coronet.tcp_quickacks", &settings::tcp_quickacks, 0, 255,
             "segments ACKed at once at the start and after out-of-order data (Linux TCP_MAX_QUICKACKS)"),
    int_knob("net.ipv4.tcp_challenge_ack_limit", &settings::tcp_challenge_ack_limit, 0, int_max,
             "challenge ACKs per second for the whole stack (RFC 5961 7)"),
    ms_knob("net.ipv4.tcp_invalid_ratelimit", &settings::tcp_invalid_ratelimit, 0, int_max,
            "minimum interval between ACKs to invalid segments on one connection (RFC 5961 7)"),
    sec_knob("net.ipv4.tcp_keepalive_time", &settings::tcp_keepalive_time, 1, int_max / 1000,
             "idle seconds before the first keepalive probe"),
    sec_knob("net.ipv4.tcp_keepalive_intvl", &settings::tcp_keepalive_intvl, 1, int_max / 1000,
             "seconds between keepalive probes"),
    int_knob("net.ipv4.tcp_keepalive_probes", &settings::tcp_keepalive_probes, 1, 127,
             "unanswered keepalive probes before the connection times out"),
    // Linux ipv4_sysctl ip_default_ttl: 1..255 (ip_ttl_min, ip_ttl_max).
    int_knob("net.ipv4.ip_default_ttl", &settings::ip_default_ttl, 1, 255, "TTL of sent IPv4 packets"),
    // Linux takes 0..INT_MAX for the two neighbour counts; coronet bounds
    // them so a per-neighbour queue stays small.
    int_knob("net.ipv4.neigh.default.mcast_solicit", &settings::neigh_mcast_solicit, 0, 255,
             "broadcast ARP requests before a neighbour is unreachable"),
    ms_knob("net.ipv4.neigh.default.retrans_time_ms", &settings::neigh_retrans_time, 1, int_max,
            "interval between ARP requests"),
    ms_knob("net.ipv4.neigh.default.base_reachable_time_ms", &settings::neigh_base_reachable_time, 1, int_max,
            "how long a resolved neighbour stays reachable"),
    int_knob("net.ipv4.neigh.default.unres_qlen", &settings::neigh_unres_qlen, 0, 65535,
             "frames queued per unresolved neighbour"),
    sec_knob("net.ipv4.ipfrag_time", &settings::ipfrag_time, 1, int_max / 1000,
             "seconds an incomplete IPv4 datagram waits for its fragments"),
    int_knob("net.ipv4.ipfrag_high_thresh", &settings::ipfrag_high_thresh, 0, int_max,
             "bytes of fragments held for reassembly before new ones are dropped"),
};

constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits on runs of spaces and tabs (sysctl accepts either); returns the count
// found, up to `max` + 1 so callers can tell "too many".
std::size_t split_fields(std::string_view s, std::string_view* out, std::size_t max) {
  std::size_t n = 0;
  s = trim(s);
  while (!s.empty()) {
    std::size_t end = 0;
    while (end < s.size() && !is_space(s[end])) ++end;
    if (n < max) out[n] = s.substr(0, end);
    ++n;
    if (n > max) break;
    s = trim(s.substr(end));
  }
  return n;
}

// A whole decimal integer (an optional '-' so "-1" reaches the range check
// and is reported as out of range rather than as not a number).
std::optional<std::int64_t> parse_int(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string accepted(const knob& k) {
  auto range = [&] { return std::to_string(k.min) + ".." + std::to_string(k.max); };
  switch (k.k) {
    case kind::integer: return "an integer in " + range();
    case kind::boolean: return "0 or 1";
    case kind::millis: return "milliseconds in " + range();
    case kind::seconds: return "seconds in " + range();
    case kind::port_range: return "\"LOW HIGH\" (space or tab separated) with 1 <= LOW <= HIGH <= 65535";
    case kind::mem_triple:
      return "bytes in " + range() + ", alone or as the middle of \"MIN DEFAULT MAX\" with MIN <= DEFAULT <= MAX";
    case kind::choice: return "one of: " + std::string(k.choices);
  }
  return {};
}

std::string bad_value(const knob& k, std::string_view given) {
  return std::string(k.name) + ": invalid value '" + std::string(given) + "'; expected " + accepted(k);
}

std::optional<std::int64_t> in_range(std::string_view s, std::int64_t lo, std::int64_t hi) {
  auto v = parse_int(s);
  if (!v || *v < lo || *v > hi) return std::nullopt;
  return v;
}

// Applies `value` to `s` when it is valid; returns false (and leaves `s`
// untouched) otherwise.
bool apply(const knob& k, settings& s, std::string_view value) {
  std::string_view f[3];
  switch (k.k) {
    case kind::integer:
    case kind::boolean: {
      auto v = in_range(trim(value), k.min, k.max);
      if (!v) return false;
      if (k.k == kind::integer) s.*k.i = static_cast<int>(*v);
      else s.*k.b = *v != 0;
      return true;
    }
    case kind::millis:
    case kind::seconds: {
      auto v = in_range(trim(value), k.min, k.max);
      if (!v) return false;
      s.*k.d = ms{k.k == kind::seconds ? *v * 1000 : *v};
      return true;
    }
    case kind::port_range: {
      // Linux ipv4_local_port_range(): rejects HIGH < LOW, so LOW == HIGH is one port.
      if (split_fields(value, f, 2) != 2) return false;
      auto lo = in_range(f[0], k.min, k.max);
      auto hi = in_range(f[1], k.min, k.max);
      if (!lo || !hi || *lo > *hi) return false;
      s.ip_local_port_min = static_cast<std::uint16_t>(*lo);
      s.ip_local_port_max = static_cast<std::uint16_t>(*hi);
      return true;
    }
    case kind::mem_triple: {
      const std::size_t n = split_fields(value, f, 3);
      if (n == 1) {
        auto v = in_range(f[0], k.min, k.max);
        if (!v) return false;
        s.*k.i = static_cast<int>(*v);
        if (s.*k.i_max < s.*k.i) s.*k.i_max = s.*k.i;
        return true;
      }
      if (n != 3) return false;
      auto lo = in_range(f[0], k.min, k.max);
      auto def = in_range(f[1], k.min, k.max);
      auto hi = in_range(f[2], k.min, k.max);
      if (!lo || !def || !hi || *lo > *def || *def > *hi) return false;
      s.*k.i = static_cast<int>(*def);
      s.*k.i_max = static_cast<int>(*hi);
      return true;
    }
    case kind::choice: {
      std::string_view v = trim(value), c = k.choices;
      while (!c.empty()) {
        std::size_t sp = c.find(' ');
        if (c.substr(0, sp) == v) {
          s.*k.str = std::string(v);
          return true;
        }
        c = sp == std::string_view::npos ? std::string_view{} : c.substr(sp + 1);
      }
      return false;
    }
  }
  return false;
}

std::string current(const knob& k, const settings& s) {
  switch (k.k) {
    case kind::integer:
    case kind::mem_triple: return std::to_string(s.*k.i);
    case kind::boolean: return s.*k.b ? "1" : "0";
    case kind::millis: return std::to_string((s.*k.d).count());
    case kind::seconds: return std::to_string((s.*k.d).count() / 1000);
    case kind::choice: return s.*k.str;
    case kind::port_range:  // sysctl prints the pair tab-separated
      return std::to_string(s.ip_local_port_min) + "\t" + std::to_string(s.ip_local_port_max);
  }
  return {};
}

// sysctl(8) accepts '/' as the separator too: net/ipv4/tcp_syn_retries.
bool same_name(std::string_view table_name, std::string_view given) {
  if (table_name.size() != given.size()) return false;
  for (std::size_t i = 0; i < given.size(); ++i) {
    const char c = given[i] == '/' ? '.' : given[i];
    if (c != table_name[i]) return false;
  }
  return true;
}

}  // namespace

std::string settings::set(std::string_view name, std::string_view value) {
  name = trim(name);
  for (const knob& k : table) {
    if (!same_name(k.name, name)) continue;
    if (!apply(k, *this, value)) return bad_value(k, value);
    return {};
  }
  std::string msg = "unknown setting '" + std::string(name) + "'; valid names:";
  for (const knob& k : table) {
    msg += ' ';
    msg += k.name;
  }
  return msg;
}

std::string settings::set(std::string_view assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return "expected name=value (e.g. net.ipv4.tcp_syn_retries=3), got '" + std::string(assignment) + "'";
  }
  return set(assignment.substr(0, eq), assignment.substr(eq + 1));
}

std::vector<settings::knob_info> settings::list() const {
  std::vector<knob_info> out;
  out.reserve(std::size(table));
  for (const knob& k : table) out.push_back({std::string(k.name), current(k, *this), std::string(k.help)});
  return out;
}

}  // namespace coronet
