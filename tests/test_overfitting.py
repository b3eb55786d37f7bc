"""PBO by CSCV and the run-level DSR (trials/overfitting.py)."""

from __future__ import annotations

import math
import time
from itertools import combinations

import numpy as np
import pytest

from mltrainer.data.bundled import BundledSource
from mltrainer.errors import TrialError
from mltrainer.models.rules import ma_crossover
from mltrainer.trials import metrics as M
from mltrainer.trials.overfitting import block_sharpes, pbo_cscv, run_dsr


def _mean(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=0)


def test_pbo_hand_example_four_blocks_three_trials() -> None:
    # Block means (per cent) of trials A, B, C in blocks b0..b3; each block has two rows,
    # mean + 1 and mean - 1, so the metric "mean return" of a set of blocks is the
    # average of its block means (equivalently their sum, for ranking).
    means = np.array([[0, 0, 0], [0, 1, 2], [0, 1, 4], [4, 0, 1]], dtype=float)
    rows = np.repeat(means, 2, axis=0) + np.tile([[1.0], [-1.0]], (4, 1))
    returns = rows / 100.0
    # In-sample pair -> in-sample sums (A, B, C) -> best -> OOS sums -> rank r of best
    # -> w = r / (N + 1) = r / 4 -> logit ln(w / (1 - w)):
    #  {0,1}: (0,1,2) -> C; OOS {2,3}: (4,1,5): C highest, r=3, w=3/4, ln 3
    #  {0,2}: (0,1,4) -> C; OOS {1,3}: (4,1,3): C second, r=2, w=1/2, 0
    #  {0,3}: (4,0,1) -> A; OOS {1,2}: (0,2,6): A lowest,  r=1, w=1/4, ln 1/3
    #  {1,2}: (0,2,6) -> C; OOS {0,3}: (4,0,1): C second, r=2, w=1/2, 0
    #  {1,3}: (4,1,3) -> A; OOS {0,2}: (0,1,4): A lowest,  r=1, w=1/4, ln 1/3
    #  {2,3}: (4,1,5) -> C; OOS {0,1}: (0,1,2): C highest, r=3, w=3/4, ln 3
    # Logits <= 0 in 4 of 6 combinations: PBO = 4/6.
    res = pbo_cscv(returns, n_blocks=4, metric=_mean)
    assert res.n_combinations == 6
    assert res.combinations.tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    assert res.best_in_sample.tolist() == [2, 2, 0, 2, 0, 2]
    ln3 = math.log(3.0)
    assert res.logits == pytest.approx([ln3, 0.0, -ln3, 0.0, -ln3, ln3], abs=1e-12)
    assert res.pbo == pytest.approx(4 / 6)
    # Performance degradation: the selected trial's mean in and out of sample (per cent).
    assert res.is_metric * 100 == pytest.approx([1.0, 2.0, 2.0, 3.0, 2.0, 2.5])
    assert res.oos_metric * 100 == pytest.approx([2.5, 1.5, 0.0, 0.5, 0.0, 1.0])


def _spx(start: str, end: str):
    return BundledSource().fetch("SPX").frame.loc[start:end]


def _ma_variants(frame) -> tuple[np.ndarray, np.ndarray]:
    """100 SMA crossover variants (fast 5..50, slow 60..195) and buy-and-hold, on real SPX
    daily returns; position at the close of t earns the return of bar t + 1. Rows before
    the slowest average exists are dropped."""
    r = frame["close"].astype(float).pct_change().fillna(0.0).to_numpy()
    fasts, slows = range(5, 55, 5), range(60, 210, 15)
    cols = [
        np.r_[0.0, ma_crossover(frame, a, b).to_numpy()[:-1] * r[1:]] for a in fasts for b in slows
    ]
    skip = max(slows)
    return np.column_stack(cols)[skip:], r[skip:]


def test_sharpe_fast_path_matches_a_loop_over_combinations() -> None:
    variants, _ = _ma_variants(_spx("2012-01-01", "2014-12-31"))
    m = variants[:, :12]
    fast = pbo_cscv(m, n_blocks=8)
    slow = pbo_cscv(
        m,
        n_blocks=8,
        metric=lambda x: np.array([M.sharpe_ratio(x[:, j], 1.0) for j in range(x.shape[1])]),
    )
    assert fast.n_combinations == math.comb(8, 4) == len(list(combinations(range(8), 4)))
    assert fast.best_in_sample.tolist() == slow.best_in_sample.tolist()
    np.testing.assert_allclose(fast.logits, slow.logits)
    np.testing.assert_allclose(fast.is_metric, slow.is_metric, rtol=1e-9)
    np.testing.assert_allclose(fast.oos_metric, slow.oos_metric, rtol=1e-9)


def test_pbo_of_noise_rule_variants_is_high_and_a_better_candidate_lowers_it() -> None:
    # 100 moving-average crossover windows on real SPX 2010-2017: the windows are
    # arbitrary, so which one looks best in a given half of the blocks is mostly luck.
    frame = _spx("2010-01-01", "2017-12-31")
    variants, bh = _ma_variants(frame)
    t0 = time.perf_counter()
    noise = pbo_cscv(variants, n_blocks=16)
    assert time.perf_counter() - t0 < 2.0
    assert noise.n_combinations == 12_870
    assert noise.pbo >= 0.5

    # Buy-and-hold SPX is genuinely better here, for a reason known before looking at the
    # returns: long-only market exposure earns the equity premium, and over these years
    # the index rose steadily, so every long/short crossover gives part of it back each
    # time it is short or whipsawed. The advantage is persistent, not one lucky stretch:
    # in each of the four consecutive two-year stretches its Sharpe beats at least 85% of
    # the variants (a short block of a few months can still favour a lucky window).
    size = len(bh) // 4
    bh_parts = bh[len(bh) - size * 4 :].reshape(4, size)
    v_parts = variants[len(bh) - size * 4 :].reshape(4, size, -1)
    for i in range(4):
        beaten = np.mean(block_sharpes(v_parts[i]) < block_sharpes(bh_parts[i][:, None])[0])
        assert beaten >= 0.85, f"stretch {i}: buy-and-hold beats only {beaten:.0%}"
    better = pbo_cscv(np.column_stack([variants, bh]), n_blocks=16)
    assert better.pbo <= 0.25
    assert better.pbo < noise.pbo - 0.3
    assert better.summary()["n_trials"] == 101


def test_pbo_timing_s16_n50_under_a_second() -> None:
    variants, _ = _ma_variants(_spx("2010-01-01", "2017-12-31"))
    t0 = time.perf_counter()
    pbo_cscv(variants[:, :50], n_blocks=16)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize(
    ("shape", "blocks", "needle"),
    [((40, 1), 4, "at least 2 trials"), ((40, 3), 5, "even"), ((10, 3), 16, "too few")],
)
def test_pbo_bad_input_names_the_problem(shape, blocks, needle) -> None:
    m = np.arange(shape[0] * shape[1], dtype=float).reshape(shape) / 1000.0
    with pytest.raises(TrialError, match=needle):
        pbo_cscv(m, n_blocks=blocks)


def test_run_dsr_counts_every_trial_and_their_sharpe_variance() -> None:
    variants, bh = _ma_variants(_spx("2010-01-01", "2017-12-31"))
    sharpes = [*block_sharpes(variants).tolist(), float(block_sharpes(bh[:, None])[0])]
    res = run_dsr(bh, sharpes)
    var = float(np.var(sharpes, ddof=1))
    assert res.n_trials == 101
    assert res.sr_variance == pytest.approx(var)
    assert res.hurdle == pytest.approx(M.expected_max_sharpe(101, var))
    assert res.sharpe == pytest.approx(sharpes[-1])
    # The PSR formula of trials/metrics.py against the hurdle of N = 101 trials with the
    # variance of all 101 Sharpes (the selected one included).
    from scipy import stats

    expected = M.dsr_from_moments(
        sharpes[-1],
        len(bh),
        float(stats.skew(bh, bias=False)),
        float(stats.kurtosis(bh, fisher=False, bias=False)),
        101,
        var,
    )
    assert res.dsr == pytest.approx(expected)
    assert 0.0 < res.dsr < M.probabilistic_sharpe_ratio(bh)  # deflation lowers it
    # One trial: nothing to deflate, the DSR is the PSR.
    assert run_dsr(bh, [sharpes[-1]]).dsr == pytest.approx(M.probabilistic_sharpe_ratio(bh))
