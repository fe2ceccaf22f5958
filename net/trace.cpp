#include "net/trace.hpp"

#include <cstdio>

#include "proto/wire/tcp.hpp"

namespace coronet::net {

namespace {
// "198.18.0.1.40000": tcpdump joins address and port with a dot.
std::string dotted(const endpoint& e) { return e.addr.to_string() + "." + std::to_string(e.port); }
}  // namespace

std::string tcp_flags_string(std::uint8_t flags) {
  namespace f = wire::tcp_flag;
  // tcpdump's print_tcp_flags() order: S F R P U E W, then '.' for ACK.
  std::string out;
  if (flags & f::syn) out += 'S';
  if (flags & f::fin) out += 'F';
  if (flags & f::rst) out += 'R';
  if (flags & f::psh) out += 'P';
  if (flags & f::urg) out += 'U';
  if (flags & f::ece) out += 'E';
  if (flags & f::cwr) out += 'W';
  if (flags & f::ack) out += '.';
  if (out.empty()) out = "none";
  return out;
}

std::string trace_printer::format(direction d, duration since_start, const segment_summary& s) {
  namespace f = wire::tcp_flag;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(since_start).count();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%lld.%06lld", static_cast<long long>(us / 1000000),
                static_cast<long long>(us % 1000000));

  std::string line = stamp;
  line += d == direction::in ? " IN  " : " OUT ";
  line += dotted(s.src) + " > " + dotted(s.dst) + ": Flags [" + tcp_flags_string(s.flags) + "]";
  // Like tcpdump -S: absolute sequence numbers, a range when there is payload.
  if (s.payload_len > 0 || (s.flags & (f::syn | f::fin | f::rst)) != 0) {
    line += ", seq " + std::to_string(s.seq);
    if (s.payload_len > 0) line += ":" + std::to_string(s.seq + s.payload_len);
  }
  if (s.flags & f::ack) line += ", ack " + std::to_string(s.ack);
  line += ", win " + std::to_string(s.window);

  // Options in the order Linux writes them into a SYN (tcp_options_write()).
  std::string opts;
  auto add = [&opts](const std::string& o) { opts += (opts.empty() ? "" : ",") + o; };
  if (s.mss) add("mss " + std::to_string(*s.mss));
  if (s.sack_permitted) add("sackOK");
  if (s.tsval) {
    if (!s.mss && !s.sack_permitted) add("nop,nop");
    add("TS val " + std::to_string(*s.tsval) + " ecr " + std::to_string(s.tsecr.value_or(0)));
  }
  if (s.wscale) add("nop,wscale " + std::to_string(*s.wscale));
  if (!opts.empty()) line += ", options [" + opts + "]";
  line += ", length " + std::to_string(s.payload_len);
  return line;
}

void trace_printer::on_segment(direction d, time_point now, const segment_summary& s) {
  if (!start_) start_ = now;
  out_ << format(d, now - *start_, s) << '\n';
}

}  // namespace coronet::net
