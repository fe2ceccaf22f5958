#include "app.hpp"

#include <net/if.h>
#include <unistd.h>

#include <iostream>

#include "net/device_flags.hpp"

namespace coronet::echo {

std::optional<net::stack_config> make_config(const options& o, std::string& error) {
  net::stack_config c = o.device;  // --backend, --xdp-mode, --xdp-bind, --queue
  c.ifname = o.iface;
  c.addr = o.addr;
  c.prefix_len = o.prefix_len;
  c.gateway = o.gateway;
  c.pcap_path = o.pcap;
  c.impair = o.impair;  // already checked by parse()
  c.trace = o.trace;
  for (const auto& s : o.sysctls) {
    if (std::string e = c.tcp.set(s); !e.empty()) {
      error = "--sysctl " + s + ": " + e;
      return std::nullopt;
    }
  }
  return c;
}

std::unique_ptr<net::stack> open_stack(rt::scheduler& sched, const net::stack_config& cfg, bool quiet) {
  if (if_nametoindex(cfg.ifname.c_str()) == 0) {
    std::cerr << "coronet-echo: interface " << cfg.ifname << " not found (in this network namespace)\n";
    return nullptr;
  }
  std::unique_ptr<net::stack> st;
  try {
    st = std::make_unique<net::stack>(sched, cfg);
  } catch (const std::exception& e) {
    std::cerr << "coronet-echo: cannot open " << cfg.backend << " on " << cfg.ifname << ": " << e.what()
              << net::device_privilege_hint(cfg, e.what(), geteuid() == 0) << '\n';
    return nullptr;
  }
  if (!quiet) std::cerr << "coronet-echo: " << st->device().describe() << '\n';
  return st;
}

}  // namespace coronet::echo
