#include "net/conn_report.hpp"

#include <chrono>
#include <iomanip>
#include <ostream>

namespace coronet::net {

namespace {

double ms(duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// ss prints the states as the kernel names them.
const char* state_name(tcp_state s) {
  switch (s) {
    case tcp_state::closed: return "CLOSED";
    case tcp_state::listen: return "LISTEN";
    case tcp_state::syn_sent: return "SYN-SENT";
    case tcp_state::syn_received: return "SYN-RECV";
    case tcp_state::established: return "ESTAB";
    case tcp_state::fin_wait_1: return "FIN-WAIT-1";
    case tcp_state::fin_wait_2: return "FIN-WAIT-2";
    case tcp_state::close_wait: return "CLOSE-WAIT";
    case tcp_state::closing: return "CLOSING";
    case tcp_state::last_ack: return "LAST-ACK";
    case tcp_state::time_wait: return "TIME-WAIT";
  }
  return "?";
}

}  // namespace

void print_conn_info(std::ostream& out, const conn_info& i) {
  std::ios::fmtflags f = out.flags();
  out << std::fixed << std::setprecision(3);
  out << state_name(i.state) << ' ' << i.local.to_string() << " -> " << i.remote.to_string() << '\n';
  out << "    " << (i.congestion_control.empty() ? "-" : i.congestion_control);
  if (i.snd_wscale >= 0) out << " wscale:" << i.snd_wscale << ',' << i.rcv_wscale;
  out << (i.timestamps ? " ts" : "") << (i.sack_permitted ? " sack" : "") << (i.nodelay ? "" : " nagle")
      << (i.keepalive ? " keepalive" : "");
  out << " rto:" << ms(i.rto) << "ms rtt:" << ms(i.srtt) << '/' << ms(i.rttvar) << "ms minrtt:" << ms(i.min_rtt)
      << "ms mss:" << i.snd_mss << " rcvmss:" << i.rcv_mss << " cwnd:" << i.cwnd << " ssthresh:";
  if (i.ssthresh >= 0x7fffffff)
    out << "inf";
  else
    out << i.ssthresh;
  out << " ca:" << (i.ca_state.empty() ? "-" : i.ca_state) << " backoff:" << i.backoff << '\n';
  out << "    bytes_sent:" << i.bytes_sent << " bytes_acked:" << i.bytes_acked << " bytes_received:" << i.bytes_received
      << " segs_out:" << i.segs_out << " segs_in:" << i.segs_in << " data_segs_out:" << i.data_segs_out
      << " data_segs_in:" << i.data_segs_in << " delivered:" << i.delivered << '\n';
  out << "    unacked:" << i.unacked << " in_flight:" << i.in_flight << " sacked:" << i.sacked << " lost:" << i.lost
      << " retrans:" << i.retrans << '/' << i.retrans_segs << " retrans_bytes:" << i.retrans_bytes
      << " rto_expiries:" << i.rto_expiries << " fast_retrans:" << i.fast_retrans << " tlp_probes:" << i.tlp_probes
      << " sack_recoveries:" << i.sack_recoveries << " reno_recoveries:" << i.reno_recoveries
      << (i.reordering_seen ? " reordering_seen" : "") << '\n';
  out << "    snd_wnd:" << i.snd_wnd << " rcv_wnd:" << i.rcv_wnd << " sndbuf:" << i.sndbuf << " rcvbuf:" << i.rcvbuf
      << " send_q:" << i.send_queue << " recv_q:" << i.recv_queue << " ofo_segs:" << i.ofo_segs
      << " dup_segs_in:" << i.dup_segs_in << " dsacks_in:" << i.dsacks_in << " dupacks_in:" << i.dup_acks_in
      << " win_probes:" << i.win_probes << " zero_window_adv:" << i.zero_window_adv
      << " challenge_acks:" << i.challenge_acks << '\n';
  out.flags(f);
}

}  // namespace coronet::net
