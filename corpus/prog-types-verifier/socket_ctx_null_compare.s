// prog-type: socket
// is_branch_taken: ctx == 0 is not decided (reg_not_null excludes PTR_TO_CTX)
if r1 == 0 goto l_dead
r0 = 0
exit
l_dead:
r0 = r5
exit
