// prog-type: tc
// check_ptr_off_reg: variable ctx access
r0 = 0
r4 = 4
r5 = r1
*(u64 *)(r10 - 8) = r4
r4 = *(u64 *)(r10 - 8)
r4 &= 4
r5 += r4
r0 = *(u32 *)(r5 + 0)
exit
