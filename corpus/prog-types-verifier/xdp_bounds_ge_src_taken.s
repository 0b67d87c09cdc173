// prog-type: xdp
// pkt_end >= pkt' taken gets r=off
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 4
if r3 >= r4 goto l_ok
r0 = 1
exit
l_ok:
r0 = *(u16 *)(r2 + 2)
exit
