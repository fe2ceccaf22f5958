// examples/coronet-bulk/transfer.hpp - what one connection's transfer keeps,
// whichever stack moves the bytes: the sent stream (a pseudo-random sequence
// fixed by the seed), SHA-256 of each direction, the optional check of the
// received bytes against a known seed, the byte counts and the times, and
// the one result line printed at the end.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include "options.hpp"
#include "proto/types.hpp"

namespace coronet::bulk {

// The byte stream of a seed, in 64-bit words laid out little-endian: word i is
// base[i mod W] XOR mask(i / W), where base is W = 128 Ki words (1 MiB) of
// splitmix64 output made once from the seed and mask(b) is splitmix64 of the
// block number. Every 1 MiB block thus differs from every other one, any range
// can be generated without the bytes before it, and generating is an XOR
// (several GB/s, so the generator never limits a benchmark).
class pattern {
 public:
  explicit pattern(std::uint64_t seed);
  // Writes the stream's bytes [offset, offset + out.size()) into out.
  void fill(std::uint64_t offset, mut_bytes out) const;

 private:
  static constexpr std::uint64_t words_per_block = 128 * 1024;
  std::uint64_t word(std::uint64_t i) const;
  std::uint64_t mask(std::uint64_t block) const;
  std::uint64_t key_;
  std::vector<std::uint64_t> base_;
};

class sha256 {
 public:
  explicit sha256(bool enabled);
  void update(bytes b);
  std::string hex();  // "-" when disabled; finishes the hash (call once)

 private:
  bool enabled_;
  crypto_hash_sha256_state state_{};
};

// One connection's bookkeeping. Senders ask next_chunk() for what to send and
// report with on_sent(); readers hand every received span to on_received().
class transfer {
 public:
  transfer(const options& o, time_point start);

  // The next bytes to send, at most `max` of them, generated into scratch (valid
  // until the next call); empty once --send is done or --reset-after's count
  // was reached. Call again only once the whole chunk went out through on_sent.
  bytes next_chunk(std::size_t max);
  void on_sent(bytes b, time_point now);  // b: the part of the chunk just sent
  // Hashes and checks `b`; false when --verify-seed found a difference.
  bool on_received(bytes b, time_point now);
  // Also notes how much of our own stream had been handed to the stack when
  // the peer's FIN arrived (sent_at_eof=): less than all of it shows a
  // half-close, the stream still flowing after the peer's FIN.
  void on_eof(time_point now) {
    recv_done_ = now;
    sent_at_eof_ = sent_;
  }
  void on_send_done(time_point now) { send_done_ = now; }

  bool send_finished() const { return sent_ == send_limit(); }
  // --reset-after: true once that many bytes went either way.
  bool reset_due() const { return reset_after_ && (sent_ >= *reset_after_ || received_ >= *reset_after_); }
  // --stall-after: true once, when the received count first reaches it.
  bool take_stall() {
    if (!stall_after_ || stalled_ || received_ < *stall_after_) return false;
    stalled_ = true;
    return true;
  }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t received() const { return received_; }
  std::optional<std::uint64_t> mismatch_at() const { return mismatch_at_; }
  time_point last_progress() const { return last_progress_; }
  void progress(time_point now) { last_progress_ = now; }

  // How the connection ended: ok, reset_sent (--reset-after), or an error.
  void fail(std::error_code ec) {
    if (!error_) error_ = ec;
  }
  void mark_reset_sent() { reset_sent_ = true; }
  std::error_code error() const { return error_; }
  bool reset_sent() const { return reset_sent_; }

  // The result line: sent=... sent_sha256=... recv=... recv_sha256=... secs=...
  // send_gbps=... recv_gbps=... peer=... result=...  Finishes the hashes.
  void print(std::ostream& out, const std::string& peer, time_point end);
  // The exit status this connection earns (status.hpp).
  int status() const;

 private:
  std::uint64_t send_limit() const;

  pattern out_;
  std::optional<pattern> expect_;
  sha256 sent_hash_, recv_hash_;
  std::uint64_t send_bytes_;
  std::optional<std::uint64_t> reset_after_, stall_after_;
  bool stalled_ = false;
  std::uint64_t sent_ = 0, received_ = 0;
  std::vector<std::uint8_t> scratch_, check_;
  std::optional<std::uint64_t> mismatch_at_;
  time_point start_, last_progress_;
  std::optional<time_point> send_done_, recv_done_;
  std::optional<std::uint64_t> sent_at_eof_;
  std::error_code error_;
  bool reset_sent_ = false;
};

}  // namespace coronet::bulk
