// prog-type: xdp
// the taken branch of pkt' > pkt_end learns no range
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto l_bad
r0 = 0
exit
l_bad:
r0 = *(u8 *)(r2 + 0)
exit
