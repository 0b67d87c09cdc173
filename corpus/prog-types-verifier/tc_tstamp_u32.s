// prog-type: tc
// tstamp only as u64
r0 = *(u32 *)(r1 + 152)
exit
