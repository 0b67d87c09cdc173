// prog-type: socket
// u32 range [5, U32_MAX] meets only the negative half of the s32 range
// [S32_MIN, 2] (__reg32_deduce_bounds): `w0 s< 0` always holds, the load
// through the uninitialised r9 is dead code
call 7
if w0 < 5 goto out
if w0 s> 2 goto out
if w0 s< 0 goto out
r0 = *(u64 *)(r9 + 0)
out:
r0 = 0
exit
