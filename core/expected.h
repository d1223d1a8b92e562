#pragma once
// Errors are values in core: every fallible operation returns Expected<T>,
// which holds either a T or a Core::Error. (GCC 12's <expected> needs C++23.)

#include "core/error.h"

#include <utility>
#include <variant>

namespace Core {

template<typename T>
class [[nodiscard]] Expected {
public:
    Expected(const T &value) : m_v(std::in_place_index<0>, value) {}
    Expected(T &&value) : m_v(std::in_place_index<0>, std::move(value)) {}
    Expected(const Error &error) : m_v(std::in_place_index<1>, error) {}
    Expected(Error &&error) : m_v(std::in_place_index<1>, std::move(error)) {}

    bool hasValue() const { return m_v.index() == 0; }
    explicit operator bool() const { return hasValue(); }

    T &value() & { return std::get<0>(m_v); }
    const T &value() const & { return std::get<0>(m_v); }
    T &&value() && { return std::get<0>(std::move(m_v)); }
    T valueOr(T fallback) const { return hasValue() ? std::get<0>(m_v) : std::move(fallback); }
    T *operator->() { return &std::get<0>(m_v); }
    const T *operator->() const { return &std::get<0>(m_v); }
    T &operator*() & { return std::get<0>(m_v); }
    const T &operator*() const & { return std::get<0>(m_v); }

    const Error &error() const { return std::get<1>(m_v); }

private:
    std::variant<T, Error> m_v;
};

template<>
class [[nodiscard]] Expected<void> {
public:
    Expected() = default;
    Expected(const Error &error) : m_error(error), m_ok(false) {}
    Expected(Error &&error) : m_error(std::move(error)), m_ok(false) {}

    bool hasValue() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const Error &error() const { return m_error; }

private:
    Error m_error;
    bool m_ok = true;
};

using Result = Expected<void>;

} // namespace Core
