// prog-type: tc
// BPF_ST into ctx is allowed (6.3+)
*(u32 *)(r1 + 8) = 0x66
r0 = *(u32 *)(r1 + 8)
exit
