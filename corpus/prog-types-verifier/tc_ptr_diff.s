// prog-type: tc
// pkt_end - pkt is a scalar for root
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r3 -= r2
r0 = r3
exit
