// prog-type: socket
// MAX_CALL_FRAMES 8: main + 7 calls is accepted
call f1
exit
f1:
call f2
exit
f2:
call f3
exit
f3:
call f4
exit
f4:
call f5
exit
f5:
call f6
exit
f6:
call f7
exit
f7:
r0 = 3
exit
