// proto/result.hpp - a value or an error, for the hot path (C++20 has no
// std::expected). The error type defaults to `drop`, the reason a frame is
// discarded; the engine's socket calls use std::errc.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "proto/drop.hpp"

namespace coronet {

template <class E>
struct unexpected {
  E error;
};
template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E = drop>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  result(unexpected<E> e) : v_(std::in_place_index<1>, e.error) {}   // NOLINT
  result(E e) requires(!std::is_same_v<T, E>) : v_(std::in_place_index<1>, e) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  E error() const { assert(!has_value()); return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace coronet
