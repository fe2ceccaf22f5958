// coronet-bulk: bulk TCP transfer, full duplex, on coronet's user-space stack
// or on the kernel's, with the same stream, hashes and result line on both so
// either can face the other (tests/lab/transfer_*_test.sh, benchmarks/throughput.sh).
// `coronet-bulk --help` explains the flags and exit statuses; docs/coronet-bulk.md
// shows it in the namespace lab.
#include <sodium.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "app.hpp"
#include "options.hpp"
#include "status.hpp"

int main(int argc, char** argv) {
  using namespace coronet::bulk;
  parse_outcome p = parse(argc, argv);
  if (p.help) {
    std::cout << usage();
    return exit_ok;
  }
  if (!p.opts) {
    std::cerr << "coronet-bulk: " << p.error << "\n(coronet-bulk --help explains every flag)\n";
    return exit_usage;
  }
  if (sodium_init() < 0) {
    std::cerr << "coronet-bulk: libsodium failed to initialise\n";
    return exit_failed;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // result lines show up as connections end
  try {
    return p.opts->stack == stack_kind::coronet ? run_coronet(*p.opts) : run_kernel(*p.opts);
  } catch (const std::exception& e) {
    std::cerr << "coronet-bulk: " << e.what() << '\n';
    return exit_failed;
  }
}
