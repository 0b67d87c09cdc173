// prog-type: xdp
// load-acquire from packet
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 4
if r4 > r3 goto l_out
r0 = load_acquire((u32 *)(r2 + 0))
exit
l_out:
r0 = 1
exit
