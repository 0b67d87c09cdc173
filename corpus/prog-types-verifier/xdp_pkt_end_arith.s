// prog-type: xdp
// adjust_ptr_min_max_vals: pointer arithmetic on pkt_end prohibited
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r3 += 1
r0 = 0
exit
