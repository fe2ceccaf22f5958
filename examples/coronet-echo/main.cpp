// coronet-echo: an echo server and client on coronet's own TCP/IP stack.
// `coronet-echo --help` explains the modes and flags; docs/coronet-echo.md
// walks through a session in the namespace lab.
#include <cstdio>
#include <exception>
#include <iostream>

#include "app.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
  using namespace coronet::echo;
  parse_outcome p = parse(argc, argv);
  if (p.help) {
    std::cout << usage();
    return exit_ok;
  }
  if (!p.opts) {
    std::cerr << "coronet-echo: " << p.error << "\n\n" << usage();
    return exit_usage;
  }
  std::string error;
  auto cfg = make_config(*p.opts, error);
  if (!cfg) {
    std::cerr << "coronet-echo: " << error << '\n';
    return exit_usage;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up as they happen
  try {
    return p.opts->what == options::mode::serve ? serve(*p.opts, *cfg) : connect(*p.opts, *cfg);
  } catch (const std::exception& e) {
    std::cerr << "coronet-echo: " << e.what() << '\n';
    return exit_failed;
  }
}
