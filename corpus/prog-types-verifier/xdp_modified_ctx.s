// prog-type: xdp
// check_ptr_off_reg: dereference of modified ctx ptr
r1 += 4
r0 = *(u32 *)(r1 + 0)
exit
