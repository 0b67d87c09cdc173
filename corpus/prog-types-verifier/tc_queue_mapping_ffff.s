// prog-type: tc
// queue_mapping >= 0xffff is not stored
r2 = 0xffff
*(u32 *)(r1 + 12) = r2
r0 = *(u32 *)(r1 + 12)
exit
