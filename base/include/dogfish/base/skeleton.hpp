// A libbpf skeleton (bpftool gen skeleton) owned by one object: opened in the
// constructor, rodata and map sizes set by the owner, load()ed, destroyed in the
// destructor; moved, never copied. Errors are OsErrors naming the object.
//
//   Skeleton<balancer_bpf> skel({balancer_bpf__open, balancer_bpf__load, balancer_bpf__destroy});
//
// The functions are passed at run time, not as template arguments: bpftool makes them
// static, and a type named after them could not be a member of a class in a header.
#pragma once

#include <bpf/libbpf.h>

#include <cerrno>
#include <string>
#include <utility>

#include "dogfish/base/errors.hpp"

namespace dogfish {

template <typename T>
class Skeleton {
 public:
  // What bpftool generates for the object: T__open, T__load, T__destroy.
  struct Ops {
    T* (*open)();
    int (*load)(T*);
    void (*destroy)(T*);
  };

  explicit Skeleton(const Ops& ops) : ops_(ops), skel_(ops.open()) {
    if (!skel_) throw OsError(errno, "opening a BPF object");
  }
  ~Skeleton() {
    if (skel_) ops_.destroy(skel_);
  }
  Skeleton(Skeleton&& other) noexcept
      : ops_(other.ops_), skel_(std::exchange(other.skel_, nullptr)) {}
  Skeleton& operator=(Skeleton&& other) noexcept {
    if (this != &other) {
      if (skel_) ops_.destroy(skel_);
      ops_ = other.ops_;
      skel_ = std::exchange(other.skel_, nullptr);
    }
    return *this;
  }
  Skeleton(const Skeleton&) = delete;
  Skeleton& operator=(const Skeleton&) = delete;

  // Loads the object into the kernel; `what` says what failed ("loading the balancer
  // over the maps pinned in ...") when the default does not say enough.
  void load(const std::string& what = "") {
    int err = ops_.load(skel_);
    if (err) throw OsError(-err, what.empty() ? "loading BPF object " + name() : what);
  }

  std::string name() const { return bpf_object__name(skel_->obj); }
  T* get() const noexcept { return skel_; }
  T* operator->() const noexcept { return skel_; }
  T& operator*() const noexcept { return *skel_; }

 private:
  Ops ops_;
  T* skel_;
};

}  // namespace dogfish
