// result.hpp - expected failures as values.
//
// A small std::expected stand-in (g++ 12 has no <expected> in C++20):
// Result<T> holds either a T or an Error with a message. Used where failing
// is a normal outcome the caller must decide about (a bad map line, a
// malformed address, a corrupt queue file); see error.hpp for the other tiers.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace relay {

struct Error {
    std::string message;
    int sys_errno = 0;  // non-zero when the failure came from a system call
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error e) : v_(std::move(e)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() & {
        assert(ok());
        return std::get<0>(v_);
    }
    const T &value() const & {
        assert(ok());
        return std::get<0>(v_);
    }
    T &&value() && {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }

    const Error &error() const {
        assert(!ok());
        return std::get<1>(v_);
    }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : err_(std::move(e)), failed_(true) {}
    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error &error() const {
        assert(failed_);
        return err_;
    }

private:
    Error err_;
    bool failed_ = false;
};

inline Error make_error(std::string msg, int sys_errno = 0) { return Error{std::move(msg), sys_errno}; }

}  // namespace relay
