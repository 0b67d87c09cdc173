// prog-type: xdp
// xdp_is_valid_access: off >= sizeof(xdp_md)
r0 = *(u32 *)(r1 + 24)
exit
