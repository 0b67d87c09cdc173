// prog-type: socket
// protocol: eth_type_trans of a zero header
r0 = *(u32 *)(r1 + 16)
exit
