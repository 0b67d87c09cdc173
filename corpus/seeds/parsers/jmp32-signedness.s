0: (18) r1 = 0x1ffffffff ll
2: (b7) r0 = 0
3: (c6) if w1 s< 0x0 goto pc+1
4: (47) r0 |= 1
5: (26) if w1 > 0x7fffffff goto pc+1
6: (47) r0 |= 2
7: (65) if r1 s> 0x0 goto pc+1
8: (47) r0 |= 4
9: (16) if w1 == 0xffffffff goto pc+1
10: (47) r0 |= 8
11: (95) exit
