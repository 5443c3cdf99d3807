"""Orbit integration: DOP853 (Dormand-Prince 8(5,3), Hairer's error control) in numba.

The Butcher tableau is scipy's. Output at arbitrary times comes from the quintic Hermite
interpolant through (x, v, a) at both ends of each accepted step (no extra force calls).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from scipy.integrate._ivp import dop853_coefficients as _dop

from orbitnet.orblib.engine.potential import accel

_NS = _dop.N_STAGES  # 12
_A = np.ascontiguousarray(_dop.A[:_NS, :_NS])
_B = np.ascontiguousarray(_dop.B)
_E3 = np.ascontiguousarray(_dop.E3)
_E5 = np.ascontiguousarray(_dop.E5)


def _nonzero_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR form (start offsets, column indices) of the nonzero entries of each row of a."""
    cols = [np.flatnonzero(row) for row in a]
    return np.cumsum([0] + [len(c) for c in cols]), np.concatenate(cols).astype(np.int64)


# the tableau's nonzero terms in ascending order: skipping an exact zero term of a sum that
# starts at +0.0 leaves every bit of the sum unchanged (for finite stages)
_A_PTR, _A_COL = _nonzero_rows(np.tril(_A, -1))
_B_COL = np.flatnonzero(_B).astype(np.int64)
_E_COL = np.flatnonzero((_E5 != 0) | (_E3 != 0)).astype(np.int64)

OK, MAX_STEPS, STEP_UNDERFLOW = 0, 1, 2


@nb.njit(cache=True)
def _rhs(y, grid, sc, mge, dy):
    dy[0] = y[3]
    dy[1] = y[4]
    dy[2] = y[5]
    accel(y[0], y[1], y[2], grid, sc, mge, dy[3:])


@nb.njit(cache=True)
def _step(y, h, K, ynew, ys, rtol, atol, grid, sc, mge):
    """One DOP853 trial step from y (K[0] = f(y)); returns the error norm, K[12] = f(ynew).

    Each stage sums its terms in the tableau's order, component by component; the six
    components of a term are updated together (independent sums: vectorisable). K has
    three spare rows (13..15) used as accumulators.
    """
    acc = K[_NS + 1]
    for s in range(1, _NS):
        acc[:] = 0.0
        for p in range(_A_PTR[s], _A_PTR[s + 1]):
            m = _A_COL[p]
            a = _A[s, m]
            for i in range(6):
                acc[i] += a * K[m, i]
        for i in range(6):
            ys[i] = y[i] + h * acc[i]
        _rhs(ys, grid, sc, mge, K[s])
    acc[:] = 0.0
    for m in _B_COL:
        b = _B[m]
        for i in range(6):
            acc[i] += b * K[m, i]
    for i in range(6):
        ynew[i] = y[i] + h * acc[i]
    _rhs(ynew, grid, sc, mge, K[_NS])
    a5 = K[_NS + 2]
    a3 = K[_NS + 3]
    a5[:] = 0.0
    a3[:] = 0.0
    for m in _E_COL:
        c5 = _E5[m]
        c3 = _E3[m]
        for i in range(6):
            a5[i] += c5 * K[m, i]
            a3[i] += c3 * K[m, i]
    e5 = 0.0
    e3 = 0.0
    for i in range(6):
        sc_i = atol + rtol * max(abs(y[i]), abs(ynew[i]))
        e5 += (a5[i] / sc_i) ** 2
        e3 += (a3[i] / sc_i) ** 2
    if e5 == 0.0 and e3 == 0.0:
        return 0.0
    return abs(h) * e5 / np.sqrt((e5 + 0.01 * e3) * 6.0)


@nb.njit(cache=True, inline="always")
def _hermite(y0, f0, y1, f1, h, s, out):
    """Quintic Hermite position and velocity at fraction s of a step of length h."""
    s2 = s * s
    s3 = s2 * s
    s4 = s3 * s
    s5 = s4 * s
    h0 = 1.0 - 10.0 * s3 + 15.0 * s4 - 6.0 * s5
    h1 = s - 6.0 * s3 + 8.0 * s4 - 3.0 * s5
    h2 = 0.5 * s2 - 1.5 * s3 + 1.5 * s4 - 0.5 * s5
    h3 = 0.5 * s3 - s4 + 0.5 * s5
    h4 = -4.0 * s3 + 7.0 * s4 - 3.0 * s5
    d0 = (-30.0 * s2 + 60.0 * s3 - 30.0 * s4) / h
    d1 = 1.0 - 18.0 * s2 + 32.0 * s3 - 15.0 * s4
    d2 = s - 4.5 * s2 + 6.0 * s3 - 2.5 * s4
    d3 = 1.5 * s2 - 4.0 * s3 + 2.5 * s4
    d4 = -12.0 * s2 + 28.0 * s3 - 15.0 * s4
    for i in range(3):
        out[i] = (h0 * y0[i] + (1.0 - h0) * y1[i]
                  + h * (h1 * y0[i + 3] + h4 * y1[i + 3])
                  + h * h * (h2 * f0[i + 3] + h3 * f1[i + 3]))
        out[i + 3] = (d0 * (y0[i] - y1[i]) + d1 * y0[i + 3] + d4 * y1[i + 3]
                      + h * (d2 * f0[i + 3] + d3 * f1[i + 3]))


@nb.njit(cache=True)
def _accepted_step(y, h, K, ynew, ys, rtol, atol, grid, sc, mge, h_min):
    """Try steps from ``h`` down until the error estimate accepts one (result in ``ynew``).

    Returns the accepted step and the growth factor for the next one; the factor is -1 when a
    rejected step shrinks below ``h_min``.
    """
    rejected = False
    while True:
        err = _step(y, h, K, ynew, ys, rtol, atol, grid, sc, mge)
        if err < 1.0:
            fac = 10.0 if err == 0.0 else min(10.0, 0.9 * err ** -0.125)
            if rejected:
                fac = min(1.0, fac)
            return h, fac
        h *= max(0.2, 0.9 * err ** -0.125)
        rejected = True
        if h < h_min:
            return h, -1.0


@nb.njit(cache=True)
def integrate_orbit(y0, t_end, t_samp, rtol, atol, h0, max_steps, grid, sc, mge, samples):
    """Integrate from y0 (x, v in km, km/s) to t_end, writing the state at the sorted times
    ``t_samp`` into ``samples``. Returns (status, accepted steps, last step)."""
    K = np.empty((_NS + 4, 6))
    y = y0.copy()
    ynew = np.empty(6)
    ys = np.empty(6)
    _rhs(y, grid, sc, mge, K[0])
    t = 0.0
    h = h0
    n = 0
    isamp = 0
    nsamp = t_samp.shape[0]
    while t < t_end:
        if n >= max_steps:
            return MAX_STEPS, n, h
        if t + h > t_end:
            h = t_end - t
        h, fac = _accepted_step(y, h, K, ynew, ys, rtol, atol, grid, sc, mge,
                                1e-12 * max(t, t_end * 1e-6))
        if fac < 0.0:
            return STEP_UNDERFLOW, n, h
        t1 = t + h
        while isamp < nsamp and t_samp[isamp] <= t1:
            _hermite(y, K[0], ynew, K[_NS], h, (t_samp[isamp] - t) / h, samples[isamp])
            isamp += 1
        t = t1
        y[:] = ynew
        K[0, :] = K[_NS]
        n += 1
        h_used = h
        h *= fac
    while isamp < nsamp:  # times at t_end exactly
        samples[isamp, :] = y
        isamp += 1
    return OK, n, h_used if n > 0 else h


@nb.njit(cache=True, nogil=True)
def plane_crossings(y0, n_cross, t_max, rtol, atol, h0, tol, grid, sc, mge):
    """Radii sqrt(x^2 + z^2) at the first ``n_cross`` crossings of the y = 0 plane, each located
    by bisection of the interpolant to |y| < tol. Returns (radii, count)."""
    K = np.empty((_NS + 4, 6))
    y = y0.copy()
    ynew = np.empty(6)
    ys = np.empty(6)
    pt = np.empty(6)
    out = np.empty(n_cross)
    _rhs(y, grid, sc, mge, K[0])
    t = 0.0
    h = h0
    nc = 0
    while nc < n_cross and t < t_max:
        h, fac = _accepted_step(y, h, K, ynew, ys, rtol, atol, grid, sc, mge, 0.0)
        if y[1] * ynew[1] < 0.0:
            lo, hi = 0.0, 1.0
            s = 1.0
            for _ in range(200):
                s = 0.5 * (lo + hi)
                _hermite(y, K[0], ynew, K[_NS], h, s, pt)
                if abs(pt[1]) < tol:
                    break
                if pt[1] * y[1] > 0.0:
                    lo = s
                else:
                    hi = s
            out[nc] = np.sqrt(pt[0] ** 2 + pt[2] ** 2)
            nc += 1
        t += h
        y[:] = ynew
        K[0, :] = K[_NS]
        h *= fac
    return out, nc
