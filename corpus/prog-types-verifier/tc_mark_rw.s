// prog-type: tc
// tc_cls_act_is_valid_access: mark writable
r2 = 0x55
*(u32 *)(r1 + 8) = r2
r0 = *(u32 *)(r1 + 8)
exit
