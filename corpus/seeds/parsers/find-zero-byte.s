0: (b7) r3 = 0
1: (3d) if r3 >= r2 goto pc+8
2: (bf) r4 = r1
3: (0f) r4 += r3
4: (71) r5 = *(u8 *)(r4 +0)
5: (15) if r5 == 0x0 goto pc+2
6: (07) r3 += 1
7: (05) goto pc-7
8: (bf) r0 = r3
9: (95) exit
10: (b7) r0 = -1
11: (95) exit
