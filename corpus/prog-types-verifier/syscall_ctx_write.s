// prog-type: syscall
// syscall ctx writable
r2 = 5
*(u32 *)(r1 + 4) = r2
r0 = *(u32 *)(r1 + 4)
exit
