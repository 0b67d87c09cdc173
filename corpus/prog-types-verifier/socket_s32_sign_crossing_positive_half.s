// prog-type: socket
// s32 range [-5, 20] crosses the sign boundary; u32 range [3, 0x90000000]
// meets only its non-negative half, so s32 becomes [3, 20]: the branch to
// the load through the uninitialised r9 is never taken
call 7
if w0 s> 20 goto out
if w0 s< -5 goto out
if w0 < 3 goto out
if w0 > 0x90000000 goto out
if w0 s< 3 goto bad
goto out
bad:
r0 = *(u64 *)(r9 + 0)
out:
r0 = 0
exit
