// prog-type: xdp
// pkt_end - pkt is a scalar for root
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r3 -= r2
r0 = r3
exit
