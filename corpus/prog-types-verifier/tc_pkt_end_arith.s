// prog-type: tc
// adjust_ptr_min_max_vals: pointer arithmetic on pkt_end prohibited
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r3 += 1
r0 = 0
exit
