// prog-type: tc
// tstamp is read as u64
r0 = *(u64 *)(r1 + 152)
exit
