0: (b7) r0 = 0
1: (b7) r6 = 0
2: (b7) r3 = 0
3: (3d) if r3 >= r2 goto pc+8
4: (bf) r4 = r1
5: (0f) r4 += r3
6: (71) r5 = *(u8 *)(r4 +0)
7: (bd) if r5 <= r0 goto pc+2
8: (bf) r0 = r5
9: (bf) r6 = r3
10: (07) r3 += 1
11: (05) goto pc-9
12: (67) r6 <<= 32
13: (4f) r0 |= r6
14: (95) exit
