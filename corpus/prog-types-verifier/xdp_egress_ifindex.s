// prog-type: xdp
// xdp_is_valid_access: egress_ifindex only for devmap
r0 = *(u32 *)(r1 + 20)
exit
