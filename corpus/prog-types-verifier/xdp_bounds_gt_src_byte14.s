// prog-type: xdp
// pkt_end > pkt+14 taken: range 15
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r3 > r4 goto l_ok
r0 = 1
exit
l_ok:
r0 = *(u8 *)(r2 + 14)
exit
