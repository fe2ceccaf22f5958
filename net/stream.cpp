#include "net/stream.hpp"

#include "net/stack.hpp"

namespace coronet::net {

bool read_awaitable::await_ready() {
  if (op_.st == nullptr) {
    op_.ec = make_error(std::errc::bad_file_descriptor);
    return true;
  }
  return op_.st->start(op_);
}

result<std::size_t> read_awaitable::await_resume() {
  op_.resumed();
  if (op_.ec) return op_.ec;
  return op_.done;
}

bool write_awaitable::await_ready() {
  if (op_.st == nullptr) {
    op_.ec = make_error(std::errc::bad_file_descriptor);
    return true;
  }
  return op_.st->start(op_);
}

result<std::size_t> write_awaitable::await_resume() {
  op_.resumed();
  if (op_.ec) return op_.ec;
  return op_.done;
}

stream::stream(stack& s, conn_id id) : st_(&s), id_(id) {
  if (auto i = s.engine_.info(id)) {
    local_ = i->local;
    remote_ = i->remote;
  }
  s.attach(id, this);
}

stream::stream(stream&& o) noexcept
    : st_(std::exchange(o.st_, nullptr)), id_(o.id_), local_(o.local_), remote_(o.remote_) {
  if (st_ != nullptr) st_->attach(id_, this);
}

stream& stream::operator=(stream&& o) noexcept {
  if (this != &o) {
    close();
    st_ = std::exchange(o.st_, nullptr);
    id_ = o.id_;
    local_ = o.local_;
    remote_ = o.remote_;
    if (st_ != nullptr) st_->attach(id_, this);
  }
  return *this;
}

void stream::shutdown() {
  if (st_ != nullptr) st_->shutdown(id_);
}

void stream::release(bool abort) noexcept {
  if (st_ == nullptr) return;
  std::exchange(st_, nullptr)->release(id_, abort);
}

void stream::close() noexcept { release(false); }
void stream::abort() noexcept { release(true); }

void stream::set_nodelay(bool on) {
  if (st_ != nullptr) st_->engine_.set_nodelay(id_, on);
}

void stream::set_keepalive(bool on) {
  if (st_ != nullptr) st_->engine_.set_keepalive(id_, on, st_->now());
}

conn_info stream::info() const {
  if (st_ != nullptr) {
    if (auto i = st_->engine_.info(id_)) return *i;
  }
  conn_info gone;
  gone.local = local_;
  gone.remote = remote_;
  return gone;
}

}  // namespace coronet::net
