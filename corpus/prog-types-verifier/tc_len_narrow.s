// prog-type: tc
// bpf_ctx_narrow_access_ok: 1-byte read of len
r0 = *(u8 *)(r1 + 0)
exit
