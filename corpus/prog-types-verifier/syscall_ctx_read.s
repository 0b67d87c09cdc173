// prog-type: syscall
// syscall ctx: any aligned offset below U16_MAX
r0 = *(u64 *)(r1 + 8)
exit
