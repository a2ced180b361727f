#pragma once
/// @file ct_string.hpp
/// `foundry::ct_string`: the growable string that compile-time text building
/// uses (kernel bodies, signatures, struct definitions, error messages).
///
/// It is `std::string` wherever constant-evaluated `std::string` works. The
/// one known exception is clang (up to 16) with libstdc++ 12 (Debian 12's
/// default clang): libstdc++ 12.2's `basic_string` starts its small-buffer
/// union member with a range-for over the array (`_M_use_local_data`), which
/// clang before 17 rejects in constant evaluation ("assignment to member
/// '_M_local_buf' of union with no active member"), so no `std::string` can be
/// built in a constant expression at all. There `ct_string` is the small class
/// below: no small-buffer optimisation (every non-empty string owns a heap
/// block, which constant evaluation supports), and the subset of the
/// `std::string` interface that Foundry's builders use. It converts to
/// `std::string_view` and (at run time) to `std::string`.
///
/// Code that builds text in constant expressions (a stage's `emit()`, a
/// `text()` generator for `frozen_text`) uses `foundry::ct_string`; on every
/// other toolchain that is exactly `std::string`.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#if defined(__clang__) && defined(_GLIBCXX_RELEASE) && !defined(FOUNDRY_NO_OWN_CT_STRING)
#if __clang_major__ < 17 && _GLIBCXX_RELEASE <= 12
#define FOUNDRY_OWN_CT_STRING 1
#endif
#endif

namespace foundry {

#ifndef FOUNDRY_OWN_CT_STRING

using ct_string = std::string;

#else

/// See the file comment: a `std::string` substitute for constant evaluation
/// with clang 16 + libstdc++ 12. Characters are kept NUL-terminated.
class ct_string {
 public:
  using value_type = char;
  using size_type = std::size_t;
  using iterator = char*;
  using const_iterator = const char*;
  static constexpr size_type npos = std::string_view::npos;

  constexpr ct_string() noexcept = default;
  constexpr ct_string(const char* s) { append(std::string_view(s)); }  // NOLINT: like std::string
  constexpr explicit ct_string(std::string_view s) { append(s); }
  constexpr ct_string(size_type n, char c) { append(n, c); }
  constexpr ct_string(const char* s, size_type n) { append(std::string_view(s, n)); }
  explicit ct_string(const std::string& s) { append(std::string_view(s)); }
  constexpr ct_string(const ct_string& o) { append(o.view()); }
  constexpr ct_string(ct_string&& o) noexcept : data_(o.data_), size_(o.size_), cap_(o.cap_) {
    o.data_ = nullptr;
    o.size_ = o.cap_ = 0;
  }
  constexpr ct_string& operator=(const ct_string& o) {
    if (this != &o) {
      clear();
      append(o.view());
    }
    return *this;
  }
  constexpr ct_string& operator=(ct_string&& o) noexcept {
    if (this != &o) {
      release();
      data_ = o.data_, size_ = o.size_, cap_ = o.cap_;
      o.data_ = nullptr;
      o.size_ = o.cap_ = 0;
    }
    return *this;
  }
  constexpr ct_string& operator=(std::string_view s) {
    clear();
    return append(s);
  }
  constexpr ct_string& operator=(const char* s) { return *this = std::string_view(s); }
  constexpr ~ct_string() { release(); }

  constexpr size_type size() const noexcept { return size_; }
  constexpr size_type length() const noexcept { return size_; }
  constexpr size_type capacity() const noexcept { return cap_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr const char* data() const noexcept { return data_ ? data_ : ""; }
  constexpr char* data() noexcept { return data_; }
  constexpr const char* c_str() const noexcept { return data(); }
  constexpr char& operator[](size_type i) noexcept { return data_[i]; }
  constexpr char operator[](size_type i) const noexcept { return data_[i]; }
  constexpr char& back() noexcept { return data_[size_ - 1]; }
  constexpr char back() const noexcept { return data_[size_ - 1]; }
  constexpr char front() const noexcept { return data_[0]; }
  constexpr iterator begin() noexcept { return data_; }
  constexpr iterator end() noexcept { return data_ + size_; }
  constexpr const_iterator begin() const noexcept { return data_; }
  constexpr const_iterator end() const noexcept { return data_ + size_; }

  constexpr std::string_view view() const noexcept { return {data(), size_}; }
  constexpr operator std::string_view() const noexcept { return view(); }  // NOLINT: like std::string
  operator std::string() const { return std::string(view()); }             // NOLINT: run-time interop

  constexpr void reserve(size_type n) {
    if (n <= cap_) return;
    std::allocator<char> a;
    char* p = a.allocate(n + 1);
    // Constant evaluation needs each char's lifetime started explicitly.
    for (size_type i = 0; i <= n; ++i) std::construct_at(p + i, i < size_ ? data_[i] : '\0');
    const size_type size = size_;
    release();
    data_ = p;
    size_ = size;
    cap_ = n;
  }
  constexpr void clear() noexcept {
    size_ = 0;
    if (data_) data_[0] = '\0';
  }
  constexpr void resize(size_type n, char c = '\0') {
    if (n > size_) {
      append(n - size_, c);
    } else {
      size_ = n;
      if (data_) data_[n] = '\0';
    }
  }
  constexpr void push_back(char c) { append(1, c); }
  constexpr void pop_back() noexcept { data_[--size_] = '\0'; }

  constexpr ct_string& append(std::string_view s) {
    grow(s.size());
    for (size_type i = 0; i < s.size(); ++i) data_[size_ + i] = s[i];
    size_ += s.size();
    if (data_) data_[size_] = '\0';
    return *this;
  }
  constexpr ct_string& append(const char* s) { return append(std::string_view(s)); }
  constexpr ct_string& append(const ct_string& s) { return append(s.view()); }
  constexpr ct_string& append(size_type n, char c) {
    grow(n);
    for (size_type i = 0; i < n; ++i) data_[size_ + i] = c;
    size_ += n;
    if (data_) data_[size_] = '\0';
    return *this;
  }
  constexpr ct_string& operator+=(std::string_view s) { return append(s); }
  constexpr ct_string& operator+=(const ct_string& s) { return append(s.view()); }
  constexpr ct_string& operator+=(const char* s) { return append(std::string_view(s)); }
  constexpr ct_string& operator+=(char c) { return append(1, c); }

  constexpr ct_string substr(size_type pos = 0, size_type n = npos) const { return ct_string(view().substr(pos, n)); }
  constexpr size_type find(std::string_view s, size_type pos = 0) const noexcept { return view().find(s, pos); }
  constexpr size_type find(char c, size_type pos = 0) const noexcept { return view().find(c, pos); }
  constexpr size_type find(const char* s, size_type pos = 0) const noexcept { return view().find(s, pos); }
  constexpr size_type rfind(std::string_view s, size_type pos = npos) const noexcept { return view().rfind(s, pos); }
  constexpr size_type rfind(char c, size_type pos = npos) const noexcept { return view().rfind(c, pos); }
  constexpr size_type find_first_of(std::string_view s, size_type pos = 0) const noexcept {
    return view().find_first_of(s, pos);
  }
  constexpr size_type find_first_not_of(std::string_view s, size_type pos = 0) const noexcept {
    return view().find_first_not_of(s, pos);
  }
  constexpr bool starts_with(std::string_view s) const noexcept { return view().starts_with(s); }
  constexpr bool ends_with(std::string_view s) const noexcept { return view().ends_with(s); }
  constexpr int compare(std::string_view s) const noexcept { return view().compare(s); }

  friend constexpr ct_string operator+(ct_string a, const ct_string& b) { return std::move(a.append(b.view())); }
  friend constexpr ct_string operator+(ct_string a, const char* b) { return std::move(a.append(b)); }
  friend constexpr ct_string operator+(ct_string a, char b) { return std::move(a.append(1, b)); }
  // No operator+ with std::string_view: std::string has none before C++26,
  // and code must compile the same with either type.
  friend constexpr ct_string operator+(const char* a, const ct_string& b) { return prepend(a, b); }
  friend constexpr ct_string operator+(char a, const ct_string& b) { return prepend(std::string_view(&a, 1), b); }

  friend constexpr bool operator==(const ct_string& a, const ct_string& b) noexcept { return a.view() == b.view(); }
  friend constexpr bool operator==(const ct_string& a, std::string_view b) noexcept { return a.view() == b; }
  friend constexpr bool operator==(const ct_string& a, const char* b) noexcept { return a.view() == b; }
  friend constexpr auto operator<=>(const ct_string& a, const ct_string& b) noexcept { return a.view() <=> b.view(); }

 private:
  static constexpr ct_string prepend(std::string_view a, const ct_string& b) {
    ct_string r;
    r.reserve(a.size() + b.size());
    r.append(a).append(b.view());
    return r;
  }
  constexpr void grow(size_type extra) {
    if (size_ + extra <= cap_) return;
    size_type n = cap_ < 16 ? 16 : cap_ * 2;
    while (n < size_ + extra) n *= 2;
    reserve(n);
  }
  constexpr void release() noexcept {
    if (data_) std::allocator<char>().deallocate(data_, cap_ + 1);
    data_ = nullptr;
    cap_ = size_ = 0;
  }

  char* data_ = nullptr;
  size_type size_ = 0;
  size_type cap_ = 0;
};

#endif

}  // namespace foundry
