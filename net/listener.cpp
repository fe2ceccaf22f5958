#include "net/listener.hpp"

#include "net/stack.hpp"

namespace coronet::net {

bool accept_awaitable::await_ready() {
  if (op_.st == nullptr) {
    op_.ec = make_error(std::errc::bad_file_descriptor);
    return true;
  }
  return op_.st->start(op_);
}

result<stream> accept_awaitable::await_resume() {
  op_.resumed();
  if (op_.ec) return op_.ec;
  return stream(*op_.st, op_.take_conn());
}

listener::listener(listener&& o) noexcept
    : st_(std::exchange(o.st_, nullptr)), id_(o.id_), local_(o.local_) {
  if (st_ != nullptr) st_->attach(id_, this);
}

listener& listener::operator=(listener&& o) noexcept {
  if (this != &o) {
    close();
    st_ = std::exchange(o.st_, nullptr);
    id_ = o.id_;
    local_ = o.local_;
    if (st_ != nullptr) st_->attach(id_, this);
  }
  return *this;
}

void listener::close() noexcept {
  if (st_ == nullptr) return;
  std::exchange(st_, nullptr)->close_listener(id_);
}

}  // namespace coronet::net
