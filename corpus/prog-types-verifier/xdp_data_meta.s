// prog-type: xdp
// pkt_meta + 8 > pkt: meta range
r2 = *(u32 *)(r1 + 8)
r3 = *(u32 *)(r1 + 0)
r4 = r2
r4 += 8
if r4 > r3 goto l_out
r0 = *(u64 *)(r2 + 0)
exit
l_out:
r0 = 3
exit
