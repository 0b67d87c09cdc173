// prog-type: xdp
// pkt_meta range 8: off 8 is out
r2 = *(u32 *)(r1 + 8)
r3 = *(u32 *)(r1 + 0)
r4 = r2
r4 += 8
if r4 > r3 goto l_out
r0 = *(u8 *)(r2 + 8)
exit
l_out:
r0 = 3
exit
