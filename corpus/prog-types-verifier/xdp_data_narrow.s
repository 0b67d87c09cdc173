// prog-type: xdp
// data must be read with size 4
r0 = *(u8 *)(r1 + 0)
exit
