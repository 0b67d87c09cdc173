// prog-type: socket
// socket filters write cb[]
r2 = 0x77
*(u32 *)(r1 + 56) = r2
r0 = *(u32 *)(r1 + 56)
exit
