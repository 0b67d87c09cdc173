// prog-type: xdp
// pointer += K keeps range; off+K+size past it
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto l_out
r2 += 4
r0 = *(u32 *)(r2 + 7)
exit
l_out:
r0 = 1
exit
