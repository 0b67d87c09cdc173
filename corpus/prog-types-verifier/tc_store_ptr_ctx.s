// prog-type: tc
// store of a pointer into ctx (root)
r2 = r10
*(u32 *)(r1 + 48) = r2
r0 = 0
exit
