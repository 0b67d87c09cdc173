// prog-type: socket
// tc_classid not for socket filters
r0 = *(u32 *)(r1 + 72)
exit
