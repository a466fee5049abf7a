/* Reads of kernel memory at offsets taken from the running kernel's BTF
 * (src/bpf/kernel_layout.*), shared by the programs that need a field no
 * context or helper gives them. A failed read yields 0. */
#ifndef SNIPROXY_BPF_KERNEL_READ_H
#define SNIPROXY_BPF_KERNEL_READ_H

/* A u32 `offset` bytes into a kernel object. */
static __always_inline __u32 kernel_u32(__u64 object, __u32 offset) {
  __u32 value = 0;
  bpf_probe_read_kernel(&value, sizeof(value), (void*)(object + offset));
  return value;
}

#endif /* SNIPROXY_BPF_KERNEL_READ_H */
