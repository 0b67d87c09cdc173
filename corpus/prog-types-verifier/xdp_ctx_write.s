// prog-type: xdp
// xdp_is_valid_access: no writes
r2 = 1
*(u32 *)(r1 + 12) = r2
r0 = 0
exit
