// prog-type: tc
// narrow access: 8-byte read of a u32 field refused
r0 = *(u64 *)(r1 + 0)
exit
