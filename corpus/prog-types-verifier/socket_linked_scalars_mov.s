// prog-type: socket
// linked scalars (sync_linked_regs): mov; the load through r9 is dead only when the link holds
call 7
r1 = r0
if r0 > 10 goto out
if r1 > 10 goto bad
goto out
bad:
r0 = *(u64 *)(r9 + 0)
out:
r0 = 0
exit
