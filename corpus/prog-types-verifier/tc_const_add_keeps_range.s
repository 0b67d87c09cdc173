// prog-type: tc
// pointer += K keeps id and range
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = r2
r4 += 14
if r4 > r3 goto l_out
r2 += 4
r0 = *(u32 *)(r2 + 6)
exit
l_out:
r0 = 1
exit
