// prog-type: xdp
// linked scalars (sync_linked_regs): spill_fill; the load through r9 is dead only when the link holds
call 7
*(u64 *)(r10 - 8) = r0
if r0 > 10 goto out
r1 = *(u64 *)(r10 - 8)
if r1 > 10 goto bad
goto out
bad:
r0 = *(u64 *)(r9 + 0)
out:
r0 = 0
exit
