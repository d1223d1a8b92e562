#pragma once
// Errors are values in core: every fallible operation returns Expected<T>,
// which holds either a T or a Core::Error. (GCC 12's <expected> needs C++23.)
// The error type is a parameter for layers with their own vocabulary (the
// server's ApiError); it defaults to Core::Error.

#include "core/error.h"

#include <utility>
#include <variant>

namespace Core {

template<typename T, typename E = Error>
class [[nodiscard]] Expected {
public:
    using ErrorType = E;

    Expected(const T &value)
        : m_v(std::in_place_index<0>, value)
    {
    }
    Expected(T &&value)
        : m_v(std::in_place_index<0>, std::move(value))
    {
    }
    Expected(const E &error)
        : m_v(std::in_place_index<1>, error)
    {
    }
    Expected(E &&error)
        : m_v(std::in_place_index<1>, std::move(error))
    {
    }

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

    const E &error() const { return std::get<1>(m_v); }

private:
    std::variant<T, E> m_v;
};

// No value, only success or an error (E default-constructible).
template<typename E>
class [[nodiscard]] Expected<void, E> {
public:
    using ErrorType = E;

    Expected() = default;
    Expected(const E &error)
        : m_error(error)
        , m_ok(false)
    {
    }
    Expected(E &&error)
        : m_error(std::move(error))
        , m_ok(false)
    {
    }

    bool hasValue() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const E &error() const { return m_error; }

private:
    E m_error;
    bool m_ok = true;
};

// The error an abandoned operation ends with (a promise dropped unresolved,
// a chain's context destroyed): Cancelled for Core::Error. Another error
// type specialises this, or is constructible from a Core::Error.
template<typename E>
struct Abandoned {
    static E error(const QString &message) { return E(Error(ErrorCode::Cancelled, message)); }
};

using Result = Expected<void>;

} // namespace Core
