// prog-type: tc
// narrow read of protocol
r0 = *(u8 *)(r1 + 16)
exit
