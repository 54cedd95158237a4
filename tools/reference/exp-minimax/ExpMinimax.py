"""Coefficients of VectorMath.FastExp's polynomial (GP0..GP3).

Remez exchange for the minimax RELATIVE error of e^r ~ 1 + r + r^2 * P(r) on |r| <= ln2/2, P of the given degree,
in 40-digit arithmetic (mpmath; not in the standard library: `pip install mpmath`).
    python3 tools/reference/exp-minimax/ExpMinimax.py 3   ->  degree 3: max relative error 1.0464e-7 (the cells' fit)
    python3 tools/reference/exp-minimax/ExpMinimax.py 4   ->  degree 4: 3.06e-9
Prints P's coefficients from r^0 up (GP3, GP2, GP1, GP0 in VectorMath for degree 3).
"""
import sys

import mpmath as mp

mp.mp.dps = 40
degree = int(sys.argv[1]) if len(sys.argv) > 1 else 3
lo, hi = -mp.log(2) / 2, mp.log(2) / 2
f = lambda r: (mp.e ** r - 1 - r) / r ** 2      # what P approximates
w = lambda r: r ** 2 / mp.e ** r                  # relative error of e^r = w(r)·(f(r) − P(r))
m = degree + 1
# Start from Chebyshev-like points, shifted so none is r = 0 (where w vanishes and the system is singular).
points = [(lo + hi) / 2 + (hi - lo) / 2 * mp.cos(mp.pi * (m - i + 0.13) / (m + 0.3)) for i in range(m + 1)]
grid = [lo + (hi - lo) * k / 4001 for k in range(4002)]   # 4001 intervals: r = 0 is not a node
for _ in range(30):
    # P(x_i) + (−1)^i·E / w(x_i) = f(x_i): the coefficients and the levelled error E.
    a = mp.matrix(m + 1, m + 1)
    b = mp.matrix(m + 1, 1)
    for i, x in enumerate(points):
        for j in range(m):
            a[i, j] = x ** j
        a[i, m] = (-1) ** i / w(x)
        b[i] = f(x)
    sol = mp.lu_solve(a, b)
    c = [sol[j] for j in range(m)]
    err = [w(x) * (f(x) - sum(c[j] * x ** j for j in range(m))) for x in grid]
    # New reference: the largest |error| of each run of one sign, trimmed to m + 1 alternating points.
    runs, cur = [], [0]
    for k in range(1, len(grid)):
        if mp.sign(err[k]) == mp.sign(err[cur[0]]):
            cur.append(k)
        else:
            runs.append(cur)
            cur = [k]
    runs.append(cur)
    ext = [max(run, key=lambda k: abs(err[k])) for run in runs]
    while len(ext) > m + 1:
        ext = ext[1:] if abs(err[ext[0]]) < abs(err[ext[-1]]) else ext[:-1]
    if len(ext) < m + 1:
        break
    points = [grid[k] for k in ext]
print(f"degree {degree}: max relative error of e^r {mp.nstr(max(abs(e) for e in err), 5)}")
for j, cj in enumerate(c):
    print(f"r^{j}: {float(cj):.10e}f")
