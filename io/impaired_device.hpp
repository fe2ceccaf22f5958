// io/impaired_device.hpp - a device decorator that loses, duplicates and
// reorders frames in both directions, for machines without netem (sch_netem
// and tc actions absent from the kernel) and for debugging.
//
//   auto spec = io::parse_impairment("loss=1%,rx.reorder=5%,seed=7");
//   io::impaired_device dev(std::make_unique<io::af_packet>(ring, cfg), *spec);
//
// rx: frames from the inner device on their way to the sink (coronet sees the
// impairment). tx: frames the stack commits on their way to the inner device
// (the peer sees it). Each direction has its own seeded RNG, so one
// direction's traffic never changes the other's decisions.
//
// Per frame, three independent draws (loss, dup, reorder), always all three:
//  - lost: the frame goes no further (tx: it is never committed to the inner
//    device; its buffer comes back from the next tx_buffer() - both af_packet
//    and memory_device hand out the same uncommitted buffer again).
//  - reordered (only when no frame of that direction is held already): a
//    copy is held back and delivered right after K later frames of the same
//    direction have been delivered (K = reorder_gap; a duplicated frame
//    counts once), or else at the first poll() that starts after it was held
//    (rx: at the end of that poll(), after the frames the inner device
//    delivers in it; tx: at its start, committed and flushed to the inner
//    device). rx_ready() is true while a frame is held, so a sleeping loop
//    comes back for it at once: nothing stays stuck.
//  - duplicated: delivered twice back to back; if it is also held, one copy
//    goes now and the other when the held frame is released.
// No delay and no rate limit: those need a clock, and a device has none.
//
// Storage for held and duplicated frames is allocated once, at construction:
// rx 64 KiB + 256 (TSO super-frames, MEASURED.md), tx mtu() + 14. A frame
// larger than that is never held, nor duplicated on tx (counted in
// too_large); an rx duplicate needs no copy (the inner device's bytes are
// valid for the whole on_frame call). A held or duplicated tx frame needs a
// fresh inner tx_buffer();
// when the inner device has none, that copy is dropped and counted in
// no_buffer.
// Single-threaded, like the device it wraps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "io/device.hpp"
#include "proto/result.hpp"

namespace coronet::io {

// Percentages, 0..100, per direction.
struct direction_impairment {
  double loss = 0, dup = 0, reorder = 0;
  bool operator==(const direction_impairment&) const = default;
};

struct impairment {
  direction_impairment rx, tx;
  unsigned reorder_gap = 3;  // K: a held frame lets this many later frames pass
  std::uint64_t seed = 1;    // the RNGs' seed: the same spec and traffic give the same decisions
  bool operator==(const impairment&) const = default;
};

// spec := item ("," item)*; later items override earlier ones.
//   item := [rx.|tx.]loss=P% | [rx.|tx.]dup=P% | [rx.|tx.]reorder=P%
//         | reorder-gap=K | seed=N
// P: a decimal number 0..100 followed by '%' ("1%", "0.5%"); K: 1..64;
// N: 0..2^64-1. Without rx./tx. a setting applies to both directions.
// The error names the bad item and shows this grammar.
result<impairment, std::string> parse_impairment(std::string_view spec);
// The canonical spec: parse_impairment(to_string(i)) == i. Settings at zero
// are left out; a direction-specific one is written only where rx and tx differ.
std::string to_string(const impairment& i);
// The grammar, as parse errors show it.
const char* impairment_grammar();

struct direction_impairment_stats {
  std::uint64_t frames = 0;      // frames that entered this direction
  std::uint64_t dropped = 0;     // lost on purpose
  std::uint64_t duplicated = 0;  // delivered twice
  std::uint64_t reordered = 0;   // held back, then delivered after later frames (or at poll)
  std::uint64_t no_buffer = 0;   // tx: a copy (duplicate or held frame) found no inner tx_buffer, lost
  std::uint64_t too_large = 0;   // longer than the copy buffer: neither held nor duplicated
};

struct impairment_stats {
  direction_impairment_stats rx, tx;
};

class impaired_device final : public device, private rx_sink {
 public:
  // Takes ownership of `inner`; throws std::invalid_argument on a null
  // device or a setting out of range.
  impaired_device(std::unique_ptr<device> inner, const impairment& spec);
  impaired_device(const impaired_device&) = delete;
  impaired_device& operator=(const impaired_device&) = delete;

  void start(rx_sink& sink) override;
  mut_bytes tx_buffer() override;  // the inner device's own buffer: no copy unless impaired
  void tx_commit(std::size_t len) override;
  void flush() override { inner_->flush(); }
  void poll() override;  // polls the inner device, then releases frames held since before this call
  bool rx_ready() const override;

  mac_addr mac() const override { return inner_->mac(); }
  std::uint16_t mtu() const override { return inner_->mtu(); }
  const device_stats& stats() const override { return inner_->stats(); }  // the inner device's counts
  std::string name() const override;  // e.g. "af_packet:veth0+impair(loss=1%,seed=1)"
  std::string describe() const override { return inner_->describe() + ", impaired (" + spec_text_ + ")"; }
  void for_each_extra(const extra_fn& fn) const override { inner_->for_each_extra(fn); }

  const impairment_stats& impair_stats() const noexcept { return istats_; }
  const impairment& spec() const noexcept { return spec_; }
  device& inner() noexcept { return *inner_; }

 private:
  struct verdict {
    bool lose, dup, hold;
  };
  // A frame kept back by reordering: its bytes, and when it was held.
  struct held_frame {
    std::vector<std::uint8_t> buf;  // allocated once
    std::size_t len = 0;
    rx_meta meta{};
    bool present = false;
    unsigned passed = 0;            // later frames delivered since it was held
    std::uint64_t round = 0;        // polls_ when it was held
  };

  void on_frame(bytes frame, rx_meta meta) override;  // from the inner device
  verdict decide(const direction_impairment& d, std::mt19937_64& rng);
  void rx_passed();
  void rx_release();
  bool tx_send_copy(bytes frame);  // into a fresh inner buffer; false (counted) when there is none
  void tx_passed();
  void tx_release();

  std::unique_ptr<device> inner_;
  impairment spec_;
  std::string spec_text_;
  rx_sink* sink_ = nullptr;
  std::mt19937_64 rx_rng_, tx_rng_;
  impairment_stats istats_{};
  std::uint64_t polls_ = 0;         // poll() calls started
  held_frame rx_held_, tx_held_;
  bool rx_releasing_ = false;       // rx_held_.buf is being delivered: hold nothing new meanwhile
  mut_bytes tx_cur_{};              // the inner buffer last handed to the stack
  std::vector<std::uint8_t> tx_dup_;  // a tx frame copied out before its commit, to be sent again
};

}  // namespace coronet::io
