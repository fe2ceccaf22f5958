// io/impaired_device.cpp - loss, duplication and reordering between a device
// and its user; the spec parser.
#include "io/impaired_device.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace coronet::io {

namespace {

// Held rx frames may be TSO/GRO super-frames (MEASURED.md: up to 65,226
// bytes on veth), as large as af_packet_config::rx_buffer_size.
constexpr std::size_t rx_copy_size = 65536 + 256;
constexpr unsigned max_reorder_gap = 64;
constexpr unsigned default_reorder_gap = 3;

// The tx stream gets its own RNG state; a fixed odd constant (2^64 / phi)
// keeps it apart from the rx stream's for every seed.
constexpr std::uint64_t tx_seed_mix = 0x9e3779b97f4a7c15ULL;

// Uniform in [0, 1) from the top 53 bits, the same on every platform (the
// standard distributions are not specified bit for bit).
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

bool valid_percent(double p) { return p >= 0 && p <= 100; }  // false for NaN

std::string error_for(std::string_view item, std::string_view why) {
  return "bad impairment item '" + std::string(item) + "': " + std::string(why) + " (" + impairment_grammar() + ")";
}

std::optional<double> parse_percent(std::string_view v) {
  if (v.size() < 2 || v.back() != '%') return std::nullopt;
  v.remove_suffix(1);
  double p = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), p);
  if (ec != std::errc{} || end != v.data() + v.size() || !valid_percent(p)) return std::nullopt;
  return p;
}

template <class T>
std::optional<T> parse_integer(std::string_view v, T lo, T hi) {
  T n{};
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || end != v.data() + v.size() || n < lo || n > hi) return std::nullopt;
  return n;
}

double* percent_field(direction_impairment& d, std::string_view key) {
  if (key == "loss") return &d.loss;
  if (key == "dup") return &d.dup;
  if (key == "reorder") return &d.reorder;
  return nullptr;
}

// One item applied to `out`; an error message, or empty.
std::string apply_item(std::string_view item, impairment& out) {
  auto eq = item.find('=');
  if (eq == std::string_view::npos) return error_for(item, "expected KEY=VALUE");
  std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
  bool rx = true, tx = true;
  std::string_view base = key;
  if (key.starts_with("rx.")) {
    tx = false;
    base.remove_prefix(3);
  } else if (key.starts_with("tx.")) {
    rx = false;
    base.remove_prefix(3);
  }
  if (percent_field(out.rx, base) != nullptr) {
    auto p = parse_percent(value);
    if (!p) return error_for(item, "wants a percentage 0..100 with a trailing '%', e.g. 1% or 0.5%");
    if (rx) *percent_field(out.rx, base) = *p;
    if (tx) *percent_field(out.tx, base) = *p;
    return {};
  }
  if (base != key) return error_for(item, "only loss, dup and reorder take an rx. or tx. prefix");
  if (key == "reorder-gap") {
    auto k = parse_integer<unsigned>(value, 1, max_reorder_gap);
    if (!k) return error_for(item, "reorder-gap wants a whole number of frames 1..64");
    out.reorder_gap = *k;
    return {};
  }
  if (key == "seed") {
    auto n = parse_integer<std::uint64_t>(value, 0, UINT64_MAX);
    if (!n) return error_for(item, "seed wants a whole number 0..18446744073709551615");
    out.seed = *n;
    return {};
  }
  return error_for(item, "unknown key '" + std::string(key) + "'");
}

std::string format_percent(double p) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, p);  // shortest form that reads back exactly
  return std::string(buf, ec == std::errc{} ? end : buf) + '%';
}

}  // namespace

// --- the spec ---

const char* impairment_grammar() {
  return "expected ITEM[,ITEM]... with ITEM one of [rx.|tx.]loss=P%, [rx.|tx.]dup=P%, "
         "[rx.|tx.]reorder=P%, reorder-gap=K, seed=N; P is 0..100, K is 1..64, "
         "no prefix means both directions";
}

result<impairment, std::string> parse_impairment(std::string_view spec) {
  using error = unexpected<std::string>;
  if (spec.empty()) return error{"empty impairment spec (" + std::string(impairment_grammar()) + ")"};
  impairment out;
  for (;;) {
    auto comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    if (item.empty()) return error{error_for(item, "empty item")};
    if (std::string e = apply_item(item, out); !e.empty()) return error{std::move(e)};
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return out;
}

std::string to_string(const impairment& i) {
  std::string out;
  auto add = [&out](std::string_view key, double p) {
    if (!out.empty()) out += ',';
    out.append(key);
    out += '=';
    out += format_percent(p);
  };
  auto field = [&add](std::string_view key, double rx, double tx) {
    if (rx == tx) {
      if (rx != 0) add(key, rx);
      return;
    }
    if (rx != 0) add("rx." + std::string(key), rx);
    if (tx != 0) add("tx." + std::string(key), tx);
  };
  field("loss", i.rx.loss, i.tx.loss);
  field("dup", i.rx.dup, i.tx.dup);
  field("reorder", i.rx.reorder, i.tx.reorder);
  if (!out.empty()) out += ',';
  if (i.reorder_gap != default_reorder_gap) out += "reorder-gap=" + std::to_string(i.reorder_gap) + ',';
  out += "seed=" + std::to_string(i.seed);
  return out;
}

// --- the device ---

impaired_device::impaired_device(std::unique_ptr<device> inner, const impairment& spec)
    : inner_(std::move(inner)), spec_(spec), rx_rng_(spec.seed), tx_rng_(spec.seed ^ tx_seed_mix) {
  if (!inner_) throw std::invalid_argument("impaired_device: no inner device");
  for (const direction_impairment* d : {&spec_.rx, &spec_.tx}) {
    if (!valid_percent(d->loss) || !valid_percent(d->dup) || !valid_percent(d->reorder))
      throw std::invalid_argument("impaired_device: percentages must be 0..100");
  }
  if (spec_.reorder_gap < 1 || spec_.reorder_gap > max_reorder_gap)
    throw std::invalid_argument("impaired_device: reorder_gap must be 1..64");
  spec_text_ = to_string(spec_);
  // Copies live here for the device's lifetime: no allocation per frame.
  const std::size_t tx_copy_size = std::size_t{inner_->mtu()} + 14;
  rx_held_.buf.resize(rx_copy_size);
  tx_held_.buf.resize(tx_copy_size);
  tx_dup_.resize(tx_copy_size);
}

void impaired_device::start(rx_sink& sink) {
  sink_ = &sink;
  inner_->start(*this);
}

std::string impaired_device::name() const { return inner_->name() + "+impair(" + spec_text_ + ")"; }

bool impaired_device::rx_ready() const {
  // A held frame waits for the next poll(): report it so the loop comes back.
  return inner_->rx_ready() || rx_held_.present || tx_held_.present;
}

// All three draws every time, so one frame's outcome never shifts the
// random sequence of the next.
impaired_device::verdict impaired_device::decide(const direction_impairment& d, std::mt19937_64& rng) {
  verdict v{};
  v.lose = unit(rng) < d.loss / 100;
  v.dup = unit(rng) < d.dup / 100;
  v.hold = unit(rng) < d.reorder / 100;
  return v;
}

void impaired_device::poll() {
  const std::uint64_t round = ++polls_;
  // Frames held before this call go out now; those held while it runs wait
  // for the next one (they had no later frames to pass them yet).
  if (tx_held_.present && tx_held_.round < round) {
    tx_release();
    inner_->flush();
  }
  inner_->poll();
  if (rx_held_.present && rx_held_.round < round) rx_release();
}

// --- rx: inner device -> sink ---

void impaired_device::on_frame(bytes frame, rx_meta meta) {
  direction_impairment_stats& st = istats_.rx;
  ++st.frames;
  verdict v = decide(spec_.rx, rx_rng_);
  if (v.lose) {
    ++st.dropped;
    return;
  }
  if (v.hold && !rx_held_.present && !rx_releasing_) {
    if (frame.size() <= rx_held_.buf.size()) {
      std::memcpy(rx_held_.buf.data(), frame.data(), frame.size());
      rx_held_.len = frame.size();
      rx_held_.meta = meta;
      rx_held_.present = true;
      rx_held_.passed = 0;
      rx_held_.round = polls_;
      ++st.reordered;
      if (v.dup) {  // one copy now, the held one later
        ++st.duplicated;
        sink_->on_frame(frame, meta);
      }
      return;
    }
    ++st.too_large;
  }
  // The inner device's bytes stay valid for this whole call: a duplicate
  // needs no copy.
  sink_->on_frame(frame, meta);
  if (v.dup) {
    ++st.duplicated;
    sink_->on_frame(frame, meta);
  }
  rx_passed();
}

void impaired_device::rx_passed() {
  if (rx_held_.present && !rx_releasing_ && ++rx_held_.passed >= spec_.reorder_gap) rx_release();
}

void impaired_device::rx_release() {
  rx_held_.present = false;
  rx_releasing_ = true;  // the sink borrows rx_held_.buf for this call
  sink_->on_frame(bytes{rx_held_.buf.data(), rx_held_.len}, rx_held_.meta);
  rx_releasing_ = false;
}

// --- tx: stack -> inner device ---

mut_bytes impaired_device::tx_buffer() {
  tx_cur_ = inner_->tx_buffer();
  return tx_cur_;
}

void impaired_device::tx_commit(std::size_t len) {
  direction_impairment_stats& st = istats_.tx;
  ++st.frames;
  verdict v = decide(spec_.tx, tx_rng_);
  if (v.lose) {
    // Not committed: the inner device hands this buffer out again.
    ++st.dropped;
    return;
  }
  const bool copyable = len <= tx_cur_.size() && len <= tx_dup_.size();
  if ((v.hold && !tx_held_.present) || v.dup) {
    if (!copyable) {
      ++st.too_large;
      v.hold = v.dup = false;
    }
  }
  bytes frame{tx_cur_.data(), std::min(len, tx_cur_.size())};
  if (v.hold && !tx_held_.present) {
    std::memcpy(tx_held_.buf.data(), frame.data(), len);
    tx_held_.len = len;
    tx_held_.present = true;
    tx_held_.passed = 0;
    tx_held_.round = polls_;
    ++st.reordered;
    if (v.dup) {  // one copy now, the held one later
      ++st.duplicated;
      inner_->tx_commit(len);
    }
    return;  // otherwise uncommitted: the buffer comes back at the next tx_buffer()
  }
  if (v.dup) std::memcpy(tx_dup_.data(), frame.data(), len);  // before the commit gives the buffer away
  inner_->tx_commit(len);
  if (v.dup && tx_send_copy(bytes{tx_dup_.data(), len})) ++st.duplicated;
  tx_passed();
}

bool impaired_device::tx_send_copy(bytes frame) {
  mut_bytes buf = inner_->tx_buffer();
  if (buf.size() < frame.size()) {
    ++istats_.tx.no_buffer;
    return false;
  }
  std::memcpy(buf.data(), frame.data(), frame.size());
  inner_->tx_commit(frame.size());
  return true;
}

void impaired_device::tx_passed() {
  if (tx_held_.present && ++tx_held_.passed >= spec_.reorder_gap) tx_release();
}

void impaired_device::tx_release() {
  tx_held_.present = false;
  tx_send_copy(bytes{tx_held_.buf.data(), tx_held_.len});
}

}  // namespace coronet::io
