// prog-type: socket
// linked scalars (sync_linked_regs): mov32_spill32; the load through r9 is dead only when the link holds
call 7
r0 &= 0xffff
w1 = w0
*(u32 *)(r10 - 8) = r0
if w1 > 10 goto out
r2 = *(u32 *)(r10 - 8)
if r2 > 10 goto bad
if r0 > 10 goto bad
goto out
bad:
r0 = *(u64 *)(r9 + 0)
out:
r0 = 0
exit
