#pragma once
// Where BCC will find the kernel header tree it compiles against, found the
// same way BCC 0.26 looks (so we can fail with one clear line before BCC
// prints a page of compiler errors).
#include <optional>
#include <string>

namespace sniproxy::bpf {

struct HeaderTree {
  std::string path;        // the tree BCC compiles in (include/linux/kconfig.h under it)
  std::string shown_path;  // the path to name to an operator (/lib/modules/<r>/build)
  bool found = false;
  bool from_kheaders = false;  // BCC will unpack /sys/kernel/kheaders.tar.xz instead
  std::string version;         // UTS_RELEASE of the tree, or its directory name
};

// `uname -r` of the running kernel.
std::string running_kernel_release();

// `override_path` (LoadOptions::kernel_source) wins; then $BCC_KERNEL_SOURCE;
// then /lib/modules/<release>/{source,build} as BCC picks them; then the
// kernel's built-in kheaders archive.
HeaderTree find_header_tree(const std::optional<std::string>& override_path);

// "BPF: no kernel header tree at <path> (install linux-headers-..., or run
// scripts/install-deps.sh)"
std::string missing_header_tree_message(const HeaderTree& tree);

}  // namespace sniproxy::bpf
