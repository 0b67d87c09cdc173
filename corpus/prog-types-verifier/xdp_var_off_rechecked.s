// prog-type: xdp
// variable offset: new id, range re-learned
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto l_out
r5 = *(u8 *)(r2 + 0)
r5 &= 15
r2 += r5
r6 = r2
r6 += 2
if r6 > r3 goto l_out
r0 = *(u16 *)(r2 + 0)
exit
l_out:
r0 = 1
exit
