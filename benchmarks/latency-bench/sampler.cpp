// latency-bench: the sampler, the result line, and opening devices and stacks.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include "io/af_xdp.hpp"
#include "latency.hpp"
#include "raw_frame.hpp"
#include "raw_tap.hpp"
#include "net/device_flags.hpp"
#include "runtime/clock.hpp"
#include "runtime/timer.hpp"

namespace coronet::latency {

double run_limit_seconds(const options& o) {
  if (o.max_seconds > 0) return o.max_seconds;
  return o.is_ping() ? 60.0 : 0.0;
}

sampler::sampler(const options& o, std::string mode) : o_(o), mode_(mode.empty() ? o.mode : std::move(mode)) {
  rtts_.reserve(static_cast<std::size_t>(o.count));
  // The run's limit counts from the start of the process's measuring work.
  deadline_ = rt::steady_now() + std::chrono::duration_cast<duration>(
                                     std::chrono::duration<double>(run_limit_seconds(o)));
}

void sampler::start(time_point now) { warm_until_ = now + std::chrono::milliseconds(o_.warmup_ms); }

void sampler::add(duration rtt, time_point now) {
  if (!warm_until_) start(now);
  if (now < *warm_until_) {
    ++warmup_samples_;
    return;
  }
  if (rtts_.size() < static_cast<std::size_t>(o_.count)) rtts_.push_back(rtt.count());
}

bool sampler::done(time_point now) const {
  return rtts_.size() >= static_cast<std::size_t>(o_.count) || now >= deadline_;
}

void sampler::stop(stop_reason why, std::string detail) {
  if (why_ != stop_reason::none) return;
  why_ = why;
  why_detail_ = std::move(detail);
}

void sampler::stop_done(time_point now) {
  if (rtts_.size() >= static_cast<std::size_t>(o_.count)) {
    stop(stop_reason::count);
  } else if (now >= deadline_) {
    stop(stop_reason::time_limit);
  }
}

// "raw-ping " when this sampler's mode is not the program's, else "".
std::string sampler::kind() const { return mode_ == o_.mode ? std::string() : mode_ + " "; }

int sampler::report(std::string_view device, std::string_view extra) const {
  std::printf("result mode=%s device=%.*s wait=%s samples=%zu warmup=%llu", mode_.c_str(),
              static_cast<int>(device.size()), device.data(), o_.wait_name(), rtts_.size(),
              static_cast<unsigned long long>(warmup_samples_));
  if (!extra.empty()) std::printf(" %.*s", static_cast<int>(extra.size()), extra.data());
  if (rtts_.empty()) {
    std::printf(" unit=us\n");
  } else {
    std::vector<std::int64_t> v = rtts_;
    const summary s = summarize(v);
    std::printf(" min=%.2f p50=%.2f p90=%.2f p99=%.2f max=%.2f unit=us\n", us(s.min), us(s.p50), us(s.p90),
                us(s.p99), us(s.max));
  }
  std::fflush(stdout);
  const std::size_t want = static_cast<std::size_t>(o_.count);
  const stop_reason why = effective_stop(why_, rtts_.size(), want);
  std::string detail = why == why_ ? why_detail_ : std::string();
  if (why == stop_reason::time_limit) {
    char limit[32];
    std::snprintf(limit, sizeof limit, "%g s", run_limit_seconds(o_));
    detail = limit;
  }
  if (rtts_.empty())
    std::fprintf(stderr, "latency-bench %s: no %sround trip completed after the warm-up\n", o_.mode.c_str(),
                 kind().c_str());
  std::fprintf(stderr, "latency-bench %s: %s%zu of %d samples kept; stopped: %s\n", o_.mode.c_str(), kind().c_str(),
               rtts_.size(), o_.count, describe_stop(why, detail).c_str());
  return complete_run(rtts_.size(), want) ? exit_ok : exit_failed;
}

std::string signal_name(int signo) {
  switch (signo) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGALRM:
      return "SIGALRM";
    default:
      return "signal " + std::to_string(signo);
  }
}

bool frame_fits(const options& o, const io::device& dev) {
  if (static_cast<std::size_t>(o.frame_bytes) <= std::size_t{dev.mtu()} + raw_frame::eth_len) return true;
  std::fprintf(stderr, "latency-bench %s: --frame-bytes %d exceeds %s's MTU %u + %zu\n", o.mode.c_str(),
               o.frame_bytes, dev.name().c_str(), static_cast<unsigned>(dev.mtu()), raw_frame::eth_len);
  return false;
}

rt::task<> wait_for(latch& l) { co_await l; }

rt::task<> fire_after(latch& l, double seconds) {
  co_await rt::sleep_for(std::chrono::duration_cast<duration>(std::chrono::duration<double>(seconds)));
  l.fire();
}

std::string device_label(const io::device& dev) {
  if (const auto* w = dynamic_cast<const forwarding_device*>(&dev)) return device_label(w->inner());
  if (const auto* x = dynamic_cast<const io::af_xdp*>(&dev))
    return std::string("af_xdp/") + io::to_string(x->mode()) + "/" + io::to_string(x->bind());
  const std::string n = dev.name();
  return n.substr(0, n.find(':'));
}

net::stack_config device_config(const options& o) {
  net::stack_config cfg = o.device;
  cfg.ifname = o.iface;
  cfg.addr = *o.addr;
  cfg.prefix_len = o.prefix;
  return cfg;
}

namespace {
void report_open_failure(const net::stack_config& cfg, const std::exception& e) {
  std::fprintf(stderr, "latency-bench: cannot open %s on %s: %s%s\n", cfg.backend.c_str(), cfg.ifname.c_str(),
               e.what(), net::device_privilege_hint(cfg, e.what(), geteuid() == 0).c_str());
}
}  // namespace

std::unique_ptr<io::device> open_device_or_report(rt::scheduler& sched, const net::stack_config& cfg, bool timing) {
  try {
    std::unique_ptr<io::device> dev = net::open_device(sched, cfg);
    std::fprintf(stderr, "latency-bench: %s\n", dev->describe().c_str());
    if (timing) dev = std::make_unique<timing_device>(std::move(dev));
    return dev;
  } catch (const std::exception& e) {
    report_open_failure(cfg, e);
    return nullptr;
  }
}

std::unique_ptr<net::stack> open_stack_or_report(rt::scheduler& sched, const net::stack_config& cfg, bool timing,
                                                 raw_tap** tap) {
  try {
    std::unique_ptr<io::device> dev = net::open_device(sched, cfg);
    if (tap != nullptr) {
      auto t = std::make_unique<raw_tap>(sched, std::move(dev), cfg.addr);
      *tap = t.get();
      dev = std::move(t);
    }
    if (timing) dev = std::make_unique<timing_device>(std::move(dev));
    auto st = std::make_unique<net::stack>(sched, cfg, std::move(dev));
    std::fprintf(stderr, "latency-bench: %s\n", st->device().describe().c_str());
    return st;
  } catch (const std::exception& e) {
    report_open_failure(cfg, e);
    return nullptr;
  }
}

}  // namespace coronet::latency
