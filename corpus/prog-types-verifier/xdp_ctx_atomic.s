// prog-type: xdp
// check_atomic: BPF_ATOMIC stores into ctx not allowed
r2 = 1
lock *(u32 *)(r1 + 48) += r2
r0 = 0
exit
