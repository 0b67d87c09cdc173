// prog-type: socket
// check_stack_slot_within_bounds: a zero-sized helper access at r10 + 0 is still outside the frame (off > -1)
r1 = r10
r2 = 0
r3 = 0
call 113
r0 = 0
exit
