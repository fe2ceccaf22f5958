// io/xdp_program.cpp - loading, clearing, attaching and reading coronet's XDP
// program (libbpf: bpf_object__open_mem, bpf_link_create, bpf_xdp_query).
#include "io/xdp_program.hpp"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <signal.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace coronet::io {

namespace bpf {
extern const unsigned char coronet_xdp_obj[];  // build/bpf/coronet_xdp_obj.cpp (cmake/embed.cmake)
extern const std::size_t coronet_xdp_obj_size;
}  // namespace bpf

const char* to_string(xdp_mode m) noexcept {
  switch (m) {
    case xdp_mode::automatic: return "auto";
    case xdp_mode::native: return "native";
    case xdp_mode::generic: return "generic";
  }
  return "?";
}

namespace detail {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("af_xdp: " + what); }
[[noreturn]] void fail(const std::string& what, int err) { fail(what + ": " + std::strerror(err)); }

namespace {

// The log of the innermost live capture on this thread.
thread_local std::string* tl_lib_log = nullptr;

int capture_print(const char* fmt, va_list ap) {
  if (tl_lib_log == nullptr) return 0;
  char buf[512];
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  if (n > 0) {
    tl_lib_log->append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
    if (tl_lib_log->size() > 4096) tl_lib_log->erase(0, tl_lib_log->size() - 4096);
  }
  return n;
}
int capture_libbpf(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  return capture_print(fmt, ap);
}
int capture_libxdp(enum libxdp_print_level level, const char* fmt, va_list ap) {
  if (level == LIBXDP_DEBUG) return 0;
  return capture_print(fmt, ap);
}

std::string last_line_of(const std::string& log) {
  std::size_t end = log.find_last_not_of("\n ");
  if (end == std::string::npos) return {};
  std::size_t start = log.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return " (" + log.substr(start, end - start + 1) + ")";
}

}  // namespace

lib_log_capture::lib_log_capture()
    : saved_(tl_lib_log),
      bpf_(reinterpret_cast<void*>(libbpf_set_print(capture_libbpf))),
      xdp_(reinterpret_cast<void*>(libxdp_set_print(capture_libxdp))) {
  tl_lib_log = &log_;
}

lib_log_capture::~lib_log_capture() {
  libbpf_set_print(reinterpret_cast<libbpf_print_fn_t>(bpf_));
  libxdp_set_print(reinterpret_cast<libxdp_print_fn_t>(xdp_));
  tl_lib_log = saved_;
}

std::string last_lib_line() { return tl_lib_log == nullptr ? std::string{} : last_line_of(*tl_lib_log); }

}  // namespace detail

using detail::fail;
using detail::last_lib_line;

namespace {

constexpr const char* cfg_map_name = "coronet_cfg";
constexpr const char* cnt_map_name = "coronet_cnt";
constexpr const char* xsk_map_name = "coronet_xsks";

// Matches struct coronet_cfg_value in io/bpf/coronet_xdp.bpf.c.
struct program_config {
  std::uint32_t addr;       // network byte order
  std::uint32_t owner_pid;
};

std::uint32_t xdp_flags_for(xdp_mode m) {
  return m == xdp_mode::generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

const char* mode_words(xdp_mode m) { return m == xdp_mode::generic ? "generic (SKB)" : "native (driver)"; }

// Reads key 0 of the map `name` among `prog_fd`'s maps into `out`.
bool read_program_config(int prog_fd, program_config& out) {
  bpf_prog_info info{};
  std::uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0 || info.nr_map_ids == 0) return false;
  std::vector<std::uint32_t> ids(info.nr_map_ids);
  const std::uint32_t nr = info.nr_map_ids;
  info = bpf_prog_info{};
  info.nr_map_ids = nr;
  info.map_ids = reinterpret_cast<std::uintptr_t>(ids.data());
  len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return false;
  for (std::uint32_t i = 0; i < std::min(nr, info.nr_map_ids); ++i) {
    int mfd = bpf_map_get_fd_by_id(ids[i]);
    if (mfd < 0) continue;
    bpf_map_info minfo{};
    std::uint32_t mlen = sizeof minfo;
    bool found = bpf_obj_get_info_by_fd(mfd, &minfo, &mlen) == 0 && std::strcmp(minfo.name, cfg_map_name) == 0 &&
                 minfo.value_size == sizeof(program_config);
    std::uint32_t zero = 0;
    if (found) found = bpf_map_lookup_elem(mfd, &zero, &out) == 0;
    ::close(mfd);
    if (found) return true;
  }
  return false;
}

bool process_alive(std::uint32_t pid) {
  if (pid == 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

xdp_program::xdp_program(const std::string& ifname, int ifindex, ipv4_addr addr) : ifname_(ifname), ifindex_(ifindex) {
  try {
    load(addr);
    remove_stale();
  } catch (...) {
    if (obj_ != nullptr) bpf_object__close(obj_);
    throw;
  }
}

xdp_program::~xdp_program() {
  detach();
  if (obj_ != nullptr) bpf_object__close(obj_);
}

void xdp_program::detach() noexcept {
  if (link_fd_ >= 0) ::close(link_fd_);
  link_fd_ = -1;
}

void xdp_program::load(ipv4_addr addr) {
  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .object_name = "coronet_xdp");
  obj_ = bpf_object__open_mem(bpf::coronet_xdp_obj, bpf::coronet_xdp_obj_size, &open_opts);
  if (obj_ == nullptr) fail("opening the XDP program" + last_lib_line(), errno);
  if (bpf_object__load(obj_) != 0) {
    int err = errno;
    if (err == EPERM || err == EACCES) {
      fail("loading the XDP program was refused: it needs CAP_BPF and CAP_NET_ADMIN (run as root)");
    }
    fail("loading the XDP program" + last_lib_line(), err);
  }
  bpf_program* prog = bpf_object__find_program_by_name(obj_, name);
  if (prog == nullptr) fail("the XDP program has no function coronet_xdp");
  prog_fd_ = bpf_program__fd(prog);
  auto map_fd = [this](const char* map) {
    bpf_map* m = bpf_object__find_map_by_name(obj_, map);
    if (m == nullptr) fail(std::string("the XDP program has no map ") + map);
    return bpf_map__fd(m);
  };
  xsks_fd_ = map_fd(xsk_map_name);
  cfg_fd_ = map_fd(cfg_map_name);
  cnt_fd_ = map_fd(cnt_map_name);
  program_config pc{htonl(addr.value), static_cast<std::uint32_t>(::getpid())};
  std::uint32_t zero = 0;
  if (bpf_map_update_elem(cfg_fd_, &zero, &pc, BPF_ANY) != 0) fail("writing the XDP program's address", errno);
}

// A coronet killed while its program was attached by netlink leaves it on
// the interface (a bpf_link would have gone with the process). Remove such a
// program when its owner is gone; refuse to touch anything else.
void xdp_program::remove_stale() {
  const std::string& ifn = ifname_;
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  if (bpf_xdp_query(ifindex_, 0, &q) != 0) return;  // no query support: attaching will say what is wrong
  struct attached {
    std::uint32_t id;
    xdp_mode mode;
  };
  for (attached a : {attached{q.drv_prog_id, xdp_mode::native}, attached{q.skb_prog_id, xdp_mode::generic}}) {
    if (a.id == 0) continue;
    int fd = bpf_prog_get_fd_by_id(a.id);
    if (fd < 0) continue;  // gone meanwhile
    bpf_prog_info info{};
    std::uint32_t len = sizeof info;
    std::string prog_name = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.name : "";
    const std::string where = ifn + " (" + mode_words(a.mode) + ", program id " + std::to_string(a.id);
    if (prog_name != name) {
      ::close(fd);
      fail(where + (prog_name.empty() ? "" : ", \"" + prog_name + "\"") +
           ") already has an XDP program that is not coronet's; coronet leaves it alone (ip link set dev " + ifn +
           " xdp off removes it)");
    }
    program_config pc{};
    const bool known = read_program_config(fd, pc);
    if (known && process_alive(pc.owner_pid)) {
      ::close(fd);
      fail(where + ") is in use by coronet process " + std::to_string(pc.owner_pid) +
           ", which is still running; one coronet per interface");
    }
    LIBBPF_OPTS(bpf_xdp_attach_opts, d, .old_prog_fd = fd);
    int rc = bpf_xdp_detach(ifindex_, xdp_flags_for(a.mode), &d);
    int err = errno;
    ::close(fd);
    if (rc != 0) {
      fail(where + ") carries coronet's XDP program" +
               (known ? " from process " + std::to_string(pc.owner_pid) + ", which is gone," : "") +
               " and it could not be removed",
           err);
    }
    std::fprintf(stderr, "coronet: af_xdp: removed coronet's XDP program left on %s)%s\n", where.c_str(),
                 known && pc.owner_pid != 0
                     ? (" by process " + std::to_string(pc.owner_pid) + ", which is no longer running").c_str()
                     : " with no owner recorded");
  }
}

void xdp_program::attach(xdp_mode requested) {
  std::vector<xdp_mode> tries;
  if (requested == xdp_mode::automatic) tries = {xdp_mode::native, xdp_mode::generic};
  else tries = {requested};
  std::string refused;
  for (xdp_mode m : tries) {
    LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = xdp_flags_for(m));
    link_fd_ = bpf_link_create(prog_fd_, ifindex_, BPF_XDP, &lo);
    if (link_fd_ >= 0) {
      mode_ = m;
      notes_ = std::string(mode_words(m)) + " XDP" +
              (refused.empty() ? "" : " (native refused: " + refused + ")");
      return;
    }
    int err = errno;
    if (err == EPERM || err == EACCES) fail("attaching XDP to " + ifname_ + " needs CAP_NET_ADMIN (run as root)");
    if (err == EBUSY || err == EEXIST) {
      fail(ifname_ + " already has an XDP program attached by another process; coronet leaves it alone");
    }
    refused = std::strerror(err);
    if (m == xdp_mode::native && tries.size() > 1) continue;
    fail("attaching coronet's XDP program to " + ifname_ + " in " + mode_words(m) + " mode" +
             (m == xdp_mode::native
                  ? " (the driver may not support native XDP: try --xdp-mode generic; veth needs as many RX queues "
                    "here as TX queues on its peer)"
                  : ""),
         err);
  }
}

void xdp_program::for_each_counter(const device::extra_fn& fn) const {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu > 0) {
    std::vector<std::uint64_t> v(static_cast<std::size_t>(ncpu));
    const char* names[] = {"XdpRedirectIpv4", "XdpRedirectArp", "XdpPass"};
    for (std::uint32_t k = 0; k < 3; ++k) {
      if (bpf_map_lookup_elem(cnt_fd_, &k, v.data()) != 0) continue;
      std::uint64_t total = 0;
      for (std::uint64_t x : v) total += x;
      fn(names[k], total);
    }
  }
}

}  // namespace coronet::io
