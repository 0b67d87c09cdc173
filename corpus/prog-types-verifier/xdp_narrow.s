// prog-type: xdp
// xdp_is_valid_access: 4-byte reads only
r0 = *(u16 *)(r1 + 12)
exit
