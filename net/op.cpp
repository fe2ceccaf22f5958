#include "net/op.hpp"

#include "net/stack.hpp"

namespace coronet::net::detail {

op::~op() {
  // st is nulled by a dying stack; an op that never started has nothing to undo.
  if (st != nullptr && (linked || owns_conn)) st->drop_op(*this);
}

bool op::suspend_with(std::coroutine_handle<> h, std::stop_token tok) {
  if (st == nullptr) {
    ec = make_error(std::errc::bad_file_descriptor);
    return false;
  }
  // runtime/cancel.hpp step 2: stopped already -> complete without suspending.
  if (tok.stop_requested()) {
    ec = make_error(std::errc::operation_canceled);
    return false;
  }
  if (what == kind::connect && st->start(*this)) return false;  // failed at once (no route, no port)
  waiter = h;
  st->link(*this);
  if (tok.stop_possible()) stop_cb.emplace(std::move(tok), on_stop{this});
  return true;
}

void op::on_stop::operator()() const noexcept {
  if (self->st != nullptr) self->st->cancel(*self);
}

}  // namespace coronet::net::detail
