/* Reads of kernel memory at offsets taken from the running kernel's BTF
 * (src/bpf/loader/kernel_layout.*), shared by the programs that need a field no
 * context or helper gives them. A failed read yields 0. */
#ifndef SNIPROXY_BPF_KERNEL_READ_H
#define SNIPROXY_BPF_KERNEL_READ_H

/* bpf_probe_read_kernel under a name of our own. BCC decides at compile
 * time whether the kernel has that helper by loading a probe program, which
 * fails without CAP_SYS_ADMIN (started with only CAP_BPF and CAP_PERFMON, as
 * the packaged unit does), and then turns every bpf_probe_read_kernel into
 * bpf_probe_read, which sk_skb and sk_msg programs may not call: the program
 * would not load. This name BCC does not touch; the helper (5.5+) is
 * there. */
static long (*sniproxy_read_kernel)(void* dst, __u32 size,
                                    const void* unsafe_ptr) = (void*)BPF_FUNC_probe_read_kernel;

/* A u32 `offset` bytes into a kernel object. */
static __always_inline __u32 kernel_u32(__u64 object, __u32 offset) {
  __u32 value = 0;
  sniproxy_read_kernel(&value, sizeof(value), (void*)(object + offset));
  return value;
}

#endif /* SNIPROXY_BPF_KERNEL_READ_H */
