// prog-type: tc
// priority writable
r2 = 7
*(u32 *)(r1 + 32) = r2
r0 = *(u32 *)(r1 + 32)
exit
