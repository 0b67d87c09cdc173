// prog-type: syscall
// syscall ctx: off % size != 0 refused
r0 = *(u32 *)(r1 + 2)
exit
