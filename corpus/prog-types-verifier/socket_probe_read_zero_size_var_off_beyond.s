// prog-type: socket
// check_mem_size_reg checks the destination even for a size of 0: check_stack_access_within_bounds refuses a variable-offset stack pointer whose range reaches past the frame
r0 = 0
*(u64 *)(r10 - 16) = r0
*(u64 *)(r10 - 8) = r0
r1 = *(u32 *)(r1 + 0)
r1 &= 63
r1 += -16
r1 += r10
r2 = 0
r3 = 0
call 113
exit
