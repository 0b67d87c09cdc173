// prog-type: tc
// cb[] 8-byte aligned reads allowed
r2 = 9
*(u32 *)(r1 + 52) = r2
r0 = *(u64 *)(r1 + 48)
r0 >>= 32
exit
