// prog-type: socket
// is_branch_taken: fp == 0
if r10 == 0 goto l_dead
r0 = 0
exit
l_dead:
r0 = r5
exit
