#include "transfer.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <string>

#include "status.hpp"

namespace coronet::bulk {

namespace {

// splitmix64 (Steele, Lea, Flood 2014): the increment and output mix.
constexpr std::uint64_t golden = 0x9e3779b97f4a7c15ull;
constexpr std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void store_le(std::uint8_t* p, std::uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, 8);
  } else {
    for (int b = 0; b < 8; ++b) p[b] = static_cast<std::uint8_t>(v >> (8 * b));
  }
}

double seconds(duration d) { return std::chrono::duration<double>(d).count(); }

std::string rate(std::uint64_t n, double secs) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", secs > 0 ? static_cast<double>(n) * 8 / secs / 1e9 : 0.0);
  return buf;
}

}  // namespace

pattern::pattern(std::uint64_t seed) : key_(mix(seed + golden)), base_(words_per_block) {
  std::uint64_t state = key_;
  for (auto& w : base_) w = mix(state += golden);
}

std::uint64_t pattern::mask(std::uint64_t block) const { return mix(key_ ^ mix(block + golden)); }

std::uint64_t pattern::word(std::uint64_t i) const {
  return base_[i % words_per_block] ^ mask(i / words_per_block);
}

void pattern::fill(std::uint64_t offset, mut_bytes out) const {
  std::size_t pos = 0;
  // A head up to a word boundary, whole words block by block, then the tail.
  while (pos < out.size() && (offset + pos) % 8 != 0) {
    const std::uint64_t at = offset + pos;
    out[pos++] = static_cast<std::uint8_t>(word(at / 8) >> (8 * (at % 8)));
  }
  std::uint64_t w = (offset + pos) / 8;
  while (out.size() - pos >= 8) {
    const std::uint64_t idx = w % words_per_block;
    const std::uint64_t n = std::min<std::uint64_t>(words_per_block - idx, (out.size() - pos) / 8);
    const std::uint64_t m = mask(w / words_per_block);
    std::uint8_t* dst = out.data() + pos;
    for (std::uint64_t j = 0; j < n; ++j) store_le(dst + 8 * j, base_[idx + j] ^ m);
    pos += static_cast<std::size_t>(8 * n);
    w += n;
  }
  for (int b = 0; pos < out.size(); ++pos, ++b) out[pos] = static_cast<std::uint8_t>(word(w) >> (8 * b));
}

sha256::sha256(bool enabled) : enabled_(enabled) {
  if (enabled_) crypto_hash_sha256_init(&state_);
}

void sha256::update(bytes b) {
  if (enabled_) crypto_hash_sha256_update(&state_, b.data(), b.size());
}

std::string sha256::hex() {
  if (!enabled_) return "-";
  std::uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state_, digest);
  char text[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(text, sizeof text, digest, sizeof digest);
  return text;
}

transfer::transfer(const options& o, time_point start)
    : out_(o.seed),
      sent_hash_(o.hash),
      recv_hash_(o.hash),
      send_bytes_(o.send_bytes),
      reset_after_(o.reset_after),
      stall_after_(o.stall_after),
      start_(start),
      last_progress_(start) {
  if (o.verify_seed) expect_.emplace(*o.verify_seed);
}

std::uint64_t transfer::send_limit() const {
  return reset_after_ ? std::min(send_bytes_, *reset_after_) : send_bytes_;
}

bytes transfer::next_chunk(std::size_t max) {
  const std::uint64_t left = send_limit() - sent_;
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, max));
  if (scratch_.size() < n) scratch_.resize(n);
  mut_bytes chunk{scratch_.data(), n};
  out_.fill(sent_, chunk);
  return chunk;
}

void transfer::on_sent(bytes b, time_point now) {
  sent_hash_.update(b);
  sent_ += b.size();
  last_progress_ = now;
}

bool transfer::on_received(bytes b, time_point now) {
  recv_hash_.update(b);
  if (expect_ && !mismatch_at_) {
    if (check_.size() < b.size()) check_.resize(b.size());
    expect_->fill(received_, mut_bytes{check_.data(), b.size()});
    auto [mine, theirs] = std::mismatch(b.begin(), b.end(), check_.begin());
    if (mine != b.end()) mismatch_at_ = received_ + static_cast<std::uint64_t>(mine - b.begin());
  }
  received_ += b.size();
  last_progress_ = now;
  return !mismatch_at_;
}

void transfer::print(std::ostream& out, const std::string& peer, time_point end) {
  const double secs = seconds(end - start_);
  const double send_secs = seconds(send_done_.value_or(end) - start_);
  const double recv_secs = seconds(recv_done_.value_or(end) - start_);
  char s[32];
  std::snprintf(s, sizeof s, "%.6f", secs);
  const char* result = "ok";
  if (mismatch_at_) {
    result = "mismatch";
  } else if (reset_sent_) {
    result = "reset_sent";
  } else if (error_ == std::errc::connection_reset || error_ == std::errc::broken_pipe) {
    result = "reset";
  } else if (error_ == std::errc::timed_out) {
    result = "timed_out";
  } else if (error_) {
    result = "error";
  }
  out << "sent=" << sent_ << " sent_sha256=" << sent_hash_.hex() << " recv=" << received_
      << " recv_sha256=" << recv_hash_.hex() << " secs=" << s << " send_gbps=" << rate(sent_, send_secs)
      << " recv_gbps=" << rate(received_, recv_secs) << " sent_at_eof="
      << (sent_at_eof_ ? std::to_string(*sent_at_eof_) : std::string("-")) << " peer=" << peer << " result=" << result
      << '\n';
}

int transfer::status() const {
  if (mismatch_at_) return exit_mismatch;
  if (reset_sent_) return exit_ok;
  return status_for(error_);
}

}  // namespace coronet::bulk
