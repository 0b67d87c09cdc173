// prog-type: xdp
// retval is 32 bits
r0 = 0x12345678
r0 <<= 8
exit
