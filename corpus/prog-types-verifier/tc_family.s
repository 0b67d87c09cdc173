// prog-type: tc
// family..local_port not for tc
r0 = *(u32 *)(r1 + 88)
exit
