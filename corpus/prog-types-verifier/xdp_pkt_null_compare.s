// prog-type: xdp
// is_branch_taken: pkt != 0 is not decided
r2 = *(u32 *)(r1 + 0)
if r2 != 0 goto l_live
r0 = r5
exit
l_live:
r0 = 0
exit
