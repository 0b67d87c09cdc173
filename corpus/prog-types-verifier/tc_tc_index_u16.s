// prog-type: tc
// tc_index is a u16 in sk_buff
r2 = 0x12345
*(u32 *)(r1 + 44) = r2
r0 = *(u32 *)(r1 + 44)
exit
