"""scikit-learn models on the feature matrix: linear, kernel, SVM, neighbours, Gaussian
process, naive Bayes, discriminant, neural-net, tree and ensemble regressors and classifiers.

Every spec builds one of two small adapters, which also serve :mod:`.boosting`:

* :class:`FeatureRegressor` fits the wrapped regressor on the *standardised* target
  ``(y - mean) / std`` and maps predictions back to return units. Forward returns are of
  order 0.01, so without this, penalties and tolerances that are absolute in ``y`` (the
  lasso ``alpha``, the SVR ``epsilon`` tube, Huber/quantile thresholds, MLP and SGD step
  sizes) would be meaningless or would flatten the model to a constant. For OLS, ridge and
  trees the rescaling changes nothing.
* :class:`DirectionClassifier` fits on ``(y > 0)`` as ``{0, 1}`` and ``predict`` returns
  P(up) in [0, 1]: the ``predict_proba`` column of class 1 when the estimator has one.
  Classifiers without probabilities (ridge classifier, SVC, linear SVC) have their
  ``decision_function`` mapped through the logistic sigmoid. That is monotone in the
  decision score, so it ranks rows and gives the direction (0.5 at the boundary) exactly,
  but it is not a calibrated probability. ``SVC(probability=True)`` was avoided because it
  runs an internal 5-fold Platt calibration (five extra fits, and randomised); use
  ``linear_svc_calibrated`` when a calibrated SVM probability is wanted. A training window
  with a single class yields that constant probability rather than an error.

Scale-sensitive models (linear with penalties, SVM, KNN, Gaussian process, MLP, kernel ridge,
discriminant) are a ``Pipeline(StandardScaler(), model)``. The Gaussian-process specs train
on at most ``max_train_rows`` rows (default 500 for regression, 300 for classification:
exact GP fitting is cubic in the number of rows), the kernel ridge specs on at most
2,000 (the same reason, :data:`KERNEL_RIDGE_ROWS`); the cap keeps the *most recent* rows,
which are the most relevant for a time series. ``bernoulli_nb`` is deliberately unscaled:
with ``binarize=0.0`` it sees the sign of each raw feature (up/down returns).

Every spec here has an ``n_threads`` parameter (default 1) that caps the native OpenMP and
BLAS thread pools during fit and predict, as ``n_jobs=1`` does for the boosting libraries.
These fits are small, and on a busy machine spin-waiting threads made them far slower:
a 0.2 s Gaussian-process classifier took 10 s, a 0.1 s histogram boosting fit 13 s.

The linear-model spellings target scikit-learn >= 1.8 (``LogisticRegression`` penalties via
``l1_ratio``; passive-aggressive regression via ``SGDRegressor(learning_rate="pa1")``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.cross_decomposition import PLSRegression
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.gaussian_process import GaussianProcessClassifier, GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import (
    ARDRegression,
    BayesianRidge,
    ElasticNet,
    ElasticNetCV,
    HuberRegressor,
    Lars,
    Lasso,
    LassoCV,
    LassoLars,
    LassoLarsIC,
    LinearRegression,
    LogisticRegression,
    LogisticRegressionCV,
    OrthogonalMatchingPursuit,
    QuantileRegressor,
    RANSACRegressor,
    Ridge,
    RidgeClassifier,
    RidgeCV,
    SGDClassifier,
    SGDRegressor,
    TheilSenRegressor,
)
from sklearn.naive_bayes import BernoulliNB, GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, NuSVC, NuSVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from .base import ModelSpec
from .threads import limit_threads

__all__ = ["SPECS", "FeatureRegressor", "DirectionClassifier", "make_factory"]

LIBRARY = "scikit-learn"


def _as_matrix(X: Any) -> np.ndarray:
    """Feature matrix as a 2-D float array (column names dropped on purpose)."""
    arr = np.asarray(X, dtype=float)
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


def _last_rows(X: np.ndarray, y: np.ndarray, cap: int | None) -> tuple[np.ndarray, np.ndarray]:
    if cap is not None and len(X) > cap:
        return X[-cap:], y[-cap:]
    return X, y


def _thread_cap(n_threads: int | None) -> contextlib.AbstractContextManager[Any]:
    """Cap native thread pools; OpenMP spin-waiting under CPU contention can cost 100x."""
    return limit_threads(n_threads)


class FeatureRegressor(RegressorMixin, BaseEstimator):
    """Fit ``estimator`` on the standardised target; ``predict`` gives a 1-D float array.

    ``max_train_rows`` keeps only the most recent rows for fitting (``None``: all rows);
    ``n_threads`` caps OpenMP/BLAS threads during fit and predict (``None``: no cap).
    """

    def __init__(
        self,
        estimator: Any = None,
        standardize_target: bool = True,
        max_train_rows: int | None = None,
        n_threads: int | None = None,
    ):
        self.estimator = estimator
        self.standardize_target = standardize_target
        self.max_train_rows = max_train_rows
        self.n_threads = n_threads

    def fit(self, X: Any, y: Any) -> FeatureRegressor:
        if self.estimator is None:
            raise ValueError("FeatureRegressor needs an estimator")
        Xa, ya = _last_rows(_as_matrix(X), np.asarray(y, dtype=float).ravel(), self.max_train_rows)
        mean, scale = 0.0, 1.0
        if self.standardize_target:
            mean = float(np.mean(ya))
            sd = float(np.std(ya))
            scale = sd if np.isfinite(sd) and sd > 0 else 1.0
        self.y_mean_ = mean
        self.y_scale_ = scale
        with _thread_cap(self.n_threads):
            self.estimator_ = clone(self.estimator).fit(Xa, (ya - mean) / scale)
        self.n_features_in_ = Xa.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        with _thread_cap(self.n_threads):
            raw = np.asarray(self.estimator_.predict(_as_matrix(X)), dtype=float).ravel()
        return raw * self.y_scale_ + self.y_mean_


class DirectionClassifier(ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on ``(y > 0)``; ``predict`` gives P(up) in [0, 1] as a 1-D array.

    Uses ``predict_proba`` when available, otherwise ``expit(decision_function)``.
    ``max_train_rows`` and ``n_threads`` as in :class:`FeatureRegressor`.
    """

    def __init__(
        self,
        estimator: Any = None,
        max_train_rows: int | None = None,
        n_threads: int | None = None,
    ):
        self.estimator = estimator
        self.max_train_rows = max_train_rows
        self.n_threads = n_threads

    def fit(self, X: Any, y: Any) -> DirectionClassifier:
        if self.estimator is None:
            raise ValueError("DirectionClassifier needs an estimator")
        labels = (np.asarray(y, dtype=float).ravel() > 0).astype(int)
        Xa, ya = _last_rows(_as_matrix(X), labels, self.max_train_rows)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = Xa.shape[1]
        present = np.unique(ya)
        self.constant_: float | None = None
        self.estimator_: Any = None
        if len(present) < 2:
            # One class only: every estimator would refuse or be degenerate.
            self.constant_ = float(present[0]) if len(present) else 0.5
            return self
        with _thread_cap(self.n_threads):
            self.estimator_ = clone(self.estimator).fit(Xa, ya)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        p = self.predict(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        Xa = _as_matrix(X)
        if self.estimator_ is None:
            return np.full(len(Xa), self.constant_, dtype=float)
        est = self.estimator_
        with _thread_cap(self.n_threads):
            if hasattr(est, "predict_proba"):
                proba = np.asarray(est.predict_proba(Xa), dtype=float)
                col = int(np.flatnonzero(np.asarray(est.classes_) == 1)[0])
                p = proba[:, col]
            else:
                p = expit(np.asarray(est.decision_function(Xa), dtype=float).ravel())
        return np.clip(p, 0.0, 1.0)


def make_factory(make: Callable[..., Any], *, task: str, scale: bool = False) -> Callable[..., Any]:
    """Factory ``(**params) -> adapter(make(**params))``.

    ``max_train_rows`` and ``n_threads`` (only where a spec lists them in its defaults) go to
    the adapter; all other params go to ``make``, so an unsupported name raises
    ``TypeError`` at build time.
    """

    def factory(**params: Any) -> Any:
        cap = params.pop("max_train_rows", None)
        threads = params.pop("n_threads", None)
        est = make(**params)
        if scale:
            est = make_pipeline(StandardScaler(), est)
        if task == "classification":
            return DirectionClassifier(est, max_train_rows=cap, n_threads=threads)
        return FeatureRegressor(est, max_train_rows=cap, n_threads=threads)

    factory.__name__ = f"build_{getattr(make, '__name__', 'model')}"
    return factory


def _spec(
    id: str,
    family: str,
    task: str,
    make: Callable[..., Any],
    description: str,
    defaults: Mapping[str, Any],
    search_space: Mapping[str, tuple[Any, ...]] | None = None,
    *,
    scale: bool = False,
    former_defaults: Mapping[str, Any] | None = None,
) -> ModelSpec:
    return ModelSpec(
        id=id,
        family=family,
        task=task,  # type: ignore[arg-type]
        library=LIBRARY,
        factory=make_factory(make, task=task, scale=scale),
        description=description,
        defaults={**defaults, "n_threads": 1},
        search_space=search_space or {},
        # forests and bagging of trees: the Cython tree builders release the GIL
        fold_threads="n_jobs" in defaults,
        former_defaults=former_defaults or {},
    )


KERNEL_RIDGE_ROWS = 2000
"""Training rows kernel ridge fits on by default (the most recent): the exact solve is
cubic in the rows, so an expanding window over 20 years of daily bars took 205 s for a
CLI-default trial; 2,000 rows (about eight years) keep it well inside the 120 s target.
Trials stored before this cap replay without it (``former_defaults``)."""


# --- constructors with derived or nested parameters ------------------------------------------


def _passive_aggressive(
    C: float = 0.01,
    epsilon: float = 0.1,
    max_iter: int = 1000,
    tol: float = 1e-3,
    average: bool = True,
    random_state: int = 0,
) -> SGDRegressor:
    # PassiveAggressiveRegressor is deprecated in scikit-learn 1.8; this is its replacement.
    return SGDRegressor(
        loss="epsilon_insensitive",
        penalty=None,
        learning_rate="pa1",
        eta0=C,
        epsilon=epsilon,
        max_iter=max_iter,
        tol=tol,
        average=average,
        random_state=random_state,
    )


def _gp_regressor(
    length_scale: float = 1.0,
    noise_level: float = 1.0,
    n_restarts_optimizer: int = 0,
    random_state: int = 0,
) -> GaussianProcessRegressor:
    kernel = ConstantKernel(1.0) * RBF(length_scale=length_scale) + WhiteKernel(noise_level)
    return GaussianProcessRegressor(
        kernel=kernel, n_restarts_optimizer=n_restarts_optimizer, random_state=random_state
    )


def _gp_classifier(
    length_scale: float = 1.0,
    n_restarts_optimizer: int = 0,
    max_iter_predict: int = 100,
    random_state: int = 0,
) -> GaussianProcessClassifier:
    return GaussianProcessClassifier(
        kernel=ConstantKernel(1.0) * RBF(length_scale=length_scale),
        n_restarts_optimizer=n_restarts_optimizer,
        max_iter_predict=max_iter_predict,
        random_state=random_state,
    )


def _logistic_cv(
    Cs: int = 10,
    cv: int = 5,
    scoring: str = "neg_log_loss",
    max_iter: int = 1000,
    random_state: int = 0,
) -> LogisticRegressionCV:
    return LogisticRegressionCV(
        Cs=Cs,
        cv=cv,
        l1_ratios=(0.0,),
        scoring=scoring,
        max_iter=max_iter,
        random_state=random_state,
        use_legacy_attributes=False,
    )


def _ransac(
    min_samples: float | None = None,
    max_trials: int = 100,
    random_state: int = 0,
) -> RANSACRegressor:
    return RANSACRegressor(
        estimator=LinearRegression(),
        min_samples=min_samples,
        max_trials=max_trials,
        random_state=random_state,
    )


def _adaboost_regressor(
    n_estimators: int = 100,
    learning_rate: float = 0.1,
    loss: str = "linear",
    max_depth: int = 3,
    random_state: int = 0,
) -> AdaBoostRegressor:
    return AdaBoostRegressor(
        estimator=DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=10),
        n_estimators=n_estimators,
        learning_rate=learning_rate,
        loss=loss,
        random_state=random_state,
    )


def _adaboost_classifier(
    n_estimators: int = 100,
    learning_rate: float = 0.1,
    max_depth: int = 2,
    random_state: int = 0,
) -> AdaBoostClassifier:
    return AdaBoostClassifier(
        estimator=DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=10),
        n_estimators=n_estimators,
        learning_rate=learning_rate,
        random_state=random_state,
    )


def _bagging_regressor(
    n_estimators: int = 100,
    max_samples: float = 0.5,
    max_features: float = 0.8,
    max_depth: int | None = 6,
    random_state: int = 0,
    n_jobs: int = 1,
) -> BaggingRegressor:
    return BaggingRegressor(
        estimator=DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=10),
        n_estimators=n_estimators,
        max_samples=max_samples,
        max_features=max_features,
        random_state=random_state,
        n_jobs=n_jobs,
    )


def _bagging_classifier(
    n_estimators: int = 100,
    max_samples: float = 0.5,
    max_features: float = 0.8,
    max_depth: int | None = 6,
    random_state: int = 0,
    n_jobs: int = 1,
) -> BaggingClassifier:
    return BaggingClassifier(
        estimator=DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=10),
        n_estimators=n_estimators,
        max_samples=max_samples,
        max_features=max_features,
        random_state=random_state,
        n_jobs=n_jobs,
    )


def _calibrated_linear_svc(
    C: float = 0.1,
    method: str = "sigmoid",
    cv: int = 3,
    random_state: int = 0,
) -> CalibratedClassifierCV:
    return CalibratedClassifierCV(
        LinearSVC(C=C, random_state=random_state, max_iter=5000), method=method, cv=cv
    )


# --- specs -----------------------------------------------------------------------------------

R, C = "regression", "classification"
ALPHAS = (1e-4, 1e-3, 1e-2, 0.1)
CS = (0.01, 0.1, 1.0, 10.0)
RS = {"random_state": 0}

_REGRESSION: list[ModelSpec] = [
    _spec(
        "dummy_mean",
        "baseline",
        R,
        DummyRegressor,
        "Baseline: always predicts the mean training return.",
        {"strategy": "mean"},
        {"strategy": ("mean", "median")},
    ),
    _spec(
        "ols",
        "linear",
        R,
        LinearRegression,
        "Ordinary least squares on standardised features.",
        {"fit_intercept": True},
        scale=True,
    ),
    _spec(
        "ridge",
        "linear",
        R,
        Ridge,
        "Ridge regression (L2), moderate shrinkage alpha=10.",
        {"alpha": 10.0, **RS},
        {"alpha": (0.1, 1.0, 10.0, 100.0, 1000.0)},
        scale=True,
    ),
    _spec(
        "ridge_strong",
        "linear",
        R,
        Ridge,
        "Ridge regression with heavy shrinkage (alpha=1000) for very noisy targets.",
        {"alpha": 1000.0, **RS},
        {"alpha": (300.0, 1000.0, 3000.0, 10000.0)},
        scale=True,
    ),
    _spec(
        "ridge_cv",
        "linear",
        R,
        RidgeCV,
        "Ridge with alpha chosen by efficient leave-one-out CV over a log grid.",
        {"alphas": (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)},
        scale=True,
    ),
    _spec(
        "lasso",
        "linear",
        R,
        Lasso,
        "Lasso (L1) regression: sparse linear model.",
        {"alpha": 0.01, "max_iter": 5000, **RS},
        {"alpha": (1e-3, 3e-3, 0.01, 0.03, 0.1)},
        scale=True,
    ),
    _spec(
        "lasso_cv",
        "linear",
        R,
        LassoCV,
        "Lasso with alpha chosen by 5-fold contiguous (unshuffled) CV along the path.",
        {"alphas": 50, "cv": 5, "max_iter": 5000, **RS},
        {"cv": (3, 5, 10)},
        scale=True,
    ),
    _spec(
        "elastic_net",
        "linear",
        R,
        ElasticNet,
        "Elastic net: mixed L1/L2 penalty, sparse but stable with correlated features.",
        {"alpha": 0.02, "l1_ratio": 0.5, "max_iter": 5000, **RS},
        {"alpha": (3e-3, 0.01, 0.03, 0.1), "l1_ratio": (0.1, 0.5, 0.9)},
        scale=True,
    ),
    _spec(
        "elastic_net_cv",
        "linear",
        R,
        ElasticNetCV,
        "Elastic net with alpha and l1_ratio chosen by 5-fold contiguous CV.",
        {"l1_ratio": (0.1, 0.5, 0.9), "alphas": 30, "cv": 5, "max_iter": 5000, **RS},
        {"cv": (3, 5, 10)},
        scale=True,
    ),
    _spec(
        "lars",
        "linear",
        R,
        Lars,
        "Least-angle regression stopped after a few active features.",
        {"n_nonzero_coefs": 5, **RS},
        {"n_nonzero_coefs": (2, 3, 5, 8)},
        scale=True,
    ),
    _spec(
        "lasso_lars",
        "linear",
        R,
        LassoLars,
        "Lasso fitted with the LARS algorithm (exact path, good for few features).",
        {"alpha": 0.01, "max_iter": 500, **RS},
        {"alpha": (1e-3, 3e-3, 0.01, 0.03)},
        scale=True,
    ),
    _spec(
        "lasso_lars_ic",
        "linear",
        R,
        LassoLarsIC,
        "Lasso-LARS with alpha chosen by an information criterion (BIC by default).",
        {"criterion": "bic"},
        {"criterion": ("bic", "aic")},
        scale=True,
    ),
    _spec(
        "omp",
        "linear",
        R,
        OrthogonalMatchingPursuit,
        "Orthogonal matching pursuit: greedy best-subset linear model (10% of features).",
        {"n_nonzero_coefs": None},
        {"n_nonzero_coefs": (None, 1, 2, 3)},
        scale=True,
    ),
    _spec(
        "bayesian_ridge",
        "linear",
        R,
        BayesianRidge,
        "Bayesian ridge: shrinkage estimated from the data by evidence maximisation.",
        {"max_iter": 300},
        scale=True,
    ),
    _spec(
        "ard_regression",
        "linear",
        R,
        ARDRegression,
        "Automatic relevance determination: per-feature Bayesian shrinkage (sparse).",
        {"max_iter": 300, "threshold_lambda": 10000.0},
        {"threshold_lambda": (1e3, 1e4, 1e5)},
        scale=True,
    ),
    _spec(
        "huber",
        "linear",
        R,
        HuberRegressor,
        "Huber regression: linear model robust to fat-tailed return outliers.",
        {"epsilon": 1.35, "alpha": 1e-4, "max_iter": 1000},
        {"epsilon": (1.1, 1.35, 1.75, 2.5), "alpha": ALPHAS},
        scale=True,
    ),
    _spec(
        "quantile_median",
        "linear",
        R,
        QuantileRegressor,
        "Median (quantile 0.5) linear regression via the HiGHS LP solver; outlier-robust.",
        {"quantile": 0.5, "alpha": 0.0, "solver": "highs"},
        {"alpha": (0.0, 1e-3, 1e-2)},
        scale=True,
    ),
    _spec(
        "theil_sen",
        "linear",
        R,
        TheilSenRegressor,
        "Theil-Sen regression: spatial median of subset fits, robust to outliers.",
        {"max_subpopulation": 500, **RS},
        {"max_subpopulation": (200, 500, 2000)},
        scale=True,
    ),
    _spec(
        "ransac",
        "linear",
        R,
        _ransac,
        "RANSAC-fitted OLS: fits on the consensus inlier set, ignoring outlier days.",
        {"min_samples": None, "max_trials": 100, **RS},
        {"min_samples": (None, 0.3, 0.5), "max_trials": (50, 100, 200)},
        scale=True,
    ),
    _spec(
        "sgd_regressor",
        "linear",
        R,
        SGDRegressor,
        "Linear model fitted by stochastic gradient descent (L2 penalty, squared loss).",
        {
            "loss": "squared_error",
            "penalty": "l2",
            "alpha": 1e-3,
            "max_iter": 1000,
            "tol": 1e-3,
            "average": False,
            **RS,
        },
        {
            "loss": ("squared_error", "huber", "epsilon_insensitive"),
            "alpha": ALPHAS,
            "penalty": ("l2", "l1", "elasticnet"),
        },
        scale=True,
    ),
    _spec(
        "passive_aggressive_regressor",
        "linear",
        R,
        _passive_aggressive,
        "Averaged passive-aggressive (PA-I) online linear regression.",
        {"C": 0.01, "epsilon": 0.1, "max_iter": 1000, "tol": 1e-3, "average": True, **RS},
        {"C": (1e-3, 0.01, 0.1, 1.0), "epsilon": (0.0, 0.1, 0.5)},
        scale=True,
    ),
    _spec(
        "pls_regression",
        "linear",
        R,
        PLSRegression,
        "Partial least squares: regression on 2 latent components of the features.",
        {"n_components": 2, "max_iter": 500},
        {"n_components": (1, 2, 3)},
        scale=True,
    ),
    _spec(
        "kernel_ridge_rbf",
        "kernel",
        R,
        KernelRidge,
        "Kernel ridge regression with an RBF kernel (smooth non-linear fit), fitted on the "
        "last 2,000 rows at most.",
        {"alpha": 10.0, "kernel": "rbf", "gamma": None, "max_train_rows": KERNEL_RIDGE_ROWS},
        {"alpha": (1.0, 10.0, 100.0), "gamma": (None, 0.01, 0.1)},
        scale=True,
        former_defaults={"max_train_rows": None},
    ),
    _spec(
        "kernel_ridge_poly",
        "kernel",
        R,
        KernelRidge,
        "Kernel ridge regression with a degree-2 polynomial kernel (pairwise interactions), "
        "fitted on the last 2,000 rows at most.",
        {
            "alpha": 100.0,
            "kernel": "poly",
            "degree": 2,
            "gamma": None,
            "coef0": 1.0,
            "max_train_rows": KERNEL_RIDGE_ROWS,
        },
        {"alpha": (10.0, 100.0, 1000.0), "degree": (2, 3)},
        scale=True,
        former_defaults={"max_train_rows": None},
    ),
    _spec(
        "svr_rbf",
        "svm",
        R,
        SVR,
        "Support vector regression, RBF kernel, epsilon-insensitive loss.",
        {"C": 1.0, "epsilon": 0.1, "gamma": "scale", "kernel": "rbf"},
        {"C": (0.1, 1.0, 10.0), "epsilon": (0.05, 0.1, 0.3), "gamma": ("scale", 0.01, 0.1)},
        scale=True,
    ),
    _spec(
        "svr_linear",
        "svm",
        R,
        SVR,
        "Support vector regression with a linear kernel (libsvm).",
        {"C": 0.1, "epsilon": 0.1, "kernel": "linear", "max_iter": 100000},
        {"C": (0.01, 0.1, 1.0), "epsilon": (0.05, 0.1, 0.3)},
        scale=True,
    ),
    _spec(
        "linear_svr",
        "svm",
        R,
        LinearSVR,
        "Linear SVR (liblinear): fast linear epsilon-insensitive regression.",
        {"C": 0.1, "epsilon": 0.0, "max_iter": 10000, **RS},
        {"C": (0.01, 0.1, 1.0), "epsilon": (0.0, 0.1, 0.3)},
        scale=True,
    ),
    _spec(
        "nu_svr",
        "svm",
        R,
        NuSVR,
        "Nu-SVR, RBF kernel: nu bounds the fraction of support vectors.",
        {"nu": 0.5, "C": 1.0, "gamma": "scale"},
        {"nu": (0.2, 0.5, 0.8), "C": (0.1, 1.0, 10.0)},
        scale=True,
    ),
    _spec(
        "knn_regressor_5",
        "neighbors",
        R,
        KNeighborsRegressor,
        "k-nearest-neighbours regression, k=5, distance-weighted (very local).",
        {"n_neighbors": 5, "weights": "distance"},
        {"n_neighbors": (3, 5, 10)},
        scale=True,
    ),
    _spec(
        "knn_regressor_20",
        "neighbors",
        R,
        KNeighborsRegressor,
        "k-nearest-neighbours regression, k=20, distance-weighted.",
        {"n_neighbors": 20, "weights": "distance"},
        {"n_neighbors": (10, 20, 30), "weights": ("distance", "uniform")},
        scale=True,
    ),
    _spec(
        "knn_regressor_50",
        "neighbors",
        R,
        KNeighborsRegressor,
        "k-nearest-neighbours regression, k=50, distance-weighted (smooth analogue model).",
        {"n_neighbors": 50, "weights": "distance"},
        {"n_neighbors": (30, 50, 100), "weights": ("distance", "uniform")},
        scale=True,
    ),
    _spec(
        "gaussian_process_regressor",
        "gaussian_process",
        R,
        _gp_regressor,
        "Gaussian process, RBF + white-noise kernel, fitted on the last 500 rows at most.",
        {
            "length_scale": 1.0,
            "noise_level": 1.0,
            "n_restarts_optimizer": 0,
            "max_train_rows": 500,
            **RS,
        },
        {"length_scale": (0.3, 1.0, 3.0), "max_train_rows": (250, 500)},
        scale=True,
    ),
    _spec(
        "mlp_regressor_small",
        "neural_net",
        R,
        MLPRegressor,
        "Small MLP (one hidden layer of 32) with L2 penalty and early stopping, lr 3e-3.",
        {
            "hidden_layer_sizes": (32,),
            "alpha": 1e-3,
            "learning_rate_init": 3e-3,
            "max_iter": 300,
            "early_stopping": True,
            **RS,
        },
        {"hidden_layer_sizes": ((16,), (32,), (64,)), "alpha": (1e-4, 1e-3, 1e-2, 0.1)},
        scale=True,
        former_defaults={"learning_rate_init": 1e-3},
    ),
    _spec(
        "mlp_regressor_medium",
        "neural_net",
        R,
        MLPRegressor,
        "Medium MLP (64-32 hidden units) with L2 penalty and early stopping (patience 5 epochs).",
        {
            "hidden_layer_sizes": (64, 32),
            "alpha": 1e-2,
            "learning_rate_init": 1e-3,
            "max_iter": 300,
            "early_stopping": True,
            "n_iter_no_change": 5,
            **RS,
        },
        {"hidden_layer_sizes": ((64, 32), (128, 64), (32, 32, 16)), "alpha": (1e-3, 1e-2, 0.1)},
        scale=True,
        former_defaults={"n_iter_no_change": 10},
    ),
    _spec(
        "decision_tree_regressor",
        "tree",
        R,
        DecisionTreeRegressor,
        "Single regression tree, depth 5, at least 20 rows per leaf.",
        {"max_depth": 5, "min_samples_leaf": 20, **RS},
        {"max_depth": (3, 5, 8), "min_samples_leaf": (10, 20, 50)},
    ),
    _spec(
        "random_forest",
        "ensemble",
        R,
        RandomForestRegressor,
        "Random forest, 100 trees on half-size bootstrap samples, 20 rows per leaf, a third of "
        "the features per split.",
        {
            "n_estimators": 100,
            "min_samples_leaf": 20,
            "max_features": 0.33,
            "max_depth": None,
            "n_jobs": 1,
            "max_samples": 0.5,
            **RS,
        },
        {
            "n_estimators": (100, 200, 400),
            "min_samples_leaf": (5, 20, 50),
            "max_features": (0.33, 0.5, 1.0),
        },
        former_defaults={"n_estimators": 200, "max_samples": None, "max_features": 0.5},
    ),
    _spec(
        "random_forest_shallow",
        "ensemble",
        R,
        RandomForestRegressor,
        "Random forest of 150 depth-4 trees on half-size bootstrap samples: strongly regularised "
        "averaging.",
        {
            "n_estimators": 150,
            "max_depth": 4,
            "min_samples_leaf": 30,
            "max_features": 0.33,
            "n_jobs": 1,
            "max_samples": 0.5,
            **RS,
        },
        {"max_depth": (2, 3, 4, 6), "min_samples_leaf": (20, 30, 50)},
        former_defaults={"n_estimators": 300, "max_samples": None},
    ),
    _spec(
        "extra_trees",
        "ensemble",
        R,
        ExtraTreesRegressor,
        "Extremely randomised trees, 200 trees, 20 rows per leaf.",
        {"n_estimators": 200, "min_samples_leaf": 20, "max_features": 0.7, "n_jobs": 1, **RS},
        {
            "n_estimators": (100, 200, 400),
            "min_samples_leaf": (5, 20, 50),
            "max_features": (0.5, 0.7, 1.0),
        },
    ),
    _spec(
        "gradient_boosting",
        "ensemble",
        R,
        GradientBoostingRegressor,
        "Gradient-boosted trees (sklearn), 100 depth-3 trees, lr 0.1, 80% subsample, half the "
        "features per split.",
        {
            "n_estimators": 100,
            "learning_rate": 0.1,
            "max_depth": 3,
            "subsample": 0.8,
            "min_samples_leaf": 20,
            "max_features": 0.5,
            **RS,
        },
        {
            "n_estimators": (100, 200, 400),
            "learning_rate": (0.01, 0.05, 0.1),
            "max_depth": (2, 3, 4),
        },
        former_defaults={"n_estimators": 200, "learning_rate": 0.05, "max_features": None},
    ),
    _spec(
        "gradient_boosting_huber",
        "ensemble",
        R,
        GradientBoostingRegressor,
        "Gradient-boosted trees with Huber loss (robust to return outliers), 70 trees, lr 0.1, "
        "half the features per split.",
        {
            "loss": "huber",
            "alpha": 0.9,
            "n_estimators": 70,
            "learning_rate": 0.1,
            "max_depth": 3,
            "subsample": 0.8,
            "min_samples_leaf": 20,
            "max_features": 0.5,
            **RS,
        },
        {"alpha": (0.8, 0.9, 0.95), "learning_rate": (0.01, 0.05, 0.1)},
        former_defaults={"n_estimators": 200, "learning_rate": 0.05, "max_features": None},
    ),
    _spec(
        "hist_gradient_boosting",
        "ensemble",
        R,
        HistGradientBoostingRegressor,
        "Histogram gradient boosting (LightGBM-style, sklearn), 200 iterations, L2 reg.",
        {
            "max_iter": 200,
            "learning_rate": 0.05,
            "max_leaf_nodes": 15,
            "min_samples_leaf": 20,
            "l2_regularization": 1.0,
            **RS,
        },
        {
            "max_iter": (100, 200, 400),
            "learning_rate": (0.02, 0.05, 0.1),
            "max_leaf_nodes": (7, 15, 31),
        },
    ),
    _spec(
        "adaboost_regressor",
        "ensemble",
        R,
        _adaboost_regressor,
        "AdaBoost.R2 over 50 depth-3 regression trees.",
        {"n_estimators": 50, "learning_rate": 0.1, "loss": "linear", "max_depth": 3, **RS},
        {
            "loss": ("linear", "square", "exponential"),
            "learning_rate": (0.05, 0.1, 0.5),
            "max_depth": (2, 3, 4),
        },
        former_defaults={"n_estimators": 100},
    ),
    _spec(
        "bagging_regressor",
        "ensemble",
        R,
        _bagging_regressor,
        "50 bagged depth-6 trees on half-size bootstrap samples and 80% of the features.",
        {
            "n_estimators": 50,
            "max_samples": 0.5,
            "max_features": 0.8,
            "max_depth": 6,
            "n_jobs": 1,
            **RS,
        },
        {"max_samples": (0.3, 0.5, 0.8), "max_depth": (4, 6, None)},
        former_defaults={"n_estimators": 100},
    ),
]

_CLASSIFICATION: list[ModelSpec] = [
    _spec(
        "dummy_prior",
        "baseline",
        C,
        DummyClassifier,
        "Baseline: P(up) is the training frequency of up moves.",
        {"strategy": "prior", **RS},
    ),
    _spec(
        "logistic",
        "linear",
        C,
        LogisticRegression,
        "L2-penalised logistic regression of the direction.",
        {"C": 1.0, "l1_ratio": 0.0, "solver": "lbfgs", "max_iter": 1000, **RS},
        {"C": CS},
        scale=True,
    ),
    _spec(
        "logistic_l1",
        "linear",
        C,
        LogisticRegression,
        "L1-penalised (sparse) logistic regression, liblinear solver.",
        {"C": 0.1, "l1_ratio": 1.0, "solver": "liblinear", "max_iter": 1000, **RS},
        {"C": CS},
        scale=True,
    ),
    _spec(
        "logistic_elastic_net",
        "linear",
        C,
        LogisticRegression,
        "Elastic-net logistic regression (saga solver), half L1 half L2.",
        {"C": 0.1, "l1_ratio": 0.5, "solver": "saga", "max_iter": 2000, **RS},
        {"C": CS, "l1_ratio": (0.2, 0.5, 0.8)},
        scale=True,
    ),
    _spec(
        "logistic_cv",
        "linear",
        C,
        _logistic_cv,
        "L2 logistic regression with C chosen by 5-fold contiguous CV on log-loss.",
        {"Cs": 10, "cv": 5, "scoring": "neg_log_loss", "max_iter": 1000, **RS},
        {"cv": (3, 5, 10)},
        scale=True,
    ),
    _spec(
        "ridge_classifier",
        "linear",
        C,
        RidgeClassifier,
        "Ridge classifier (least squares on +/-1); P(up) = sigmoid(decision score).",
        {"alpha": 10.0, **RS},
        {"alpha": (0.1, 1.0, 10.0, 100.0, 1000.0)},
        scale=True,
    ),
    _spec(
        "sgd_classifier",
        "linear",
        C,
        SGDClassifier,
        "Logistic regression by stochastic gradient descent (log loss, L2).",
        {
            "loss": "log_loss",
            "penalty": "l2",
            "alpha": 1e-3,
            "max_iter": 1000,
            "tol": 1e-3,
            "average": False,
            **RS,
        },
        {"alpha": ALPHAS, "penalty": ("l2", "l1", "elasticnet")},
        scale=True,
    ),
    _spec(
        "sgd_classifier_modified_huber",
        "linear",
        C,
        SGDClassifier,
        "Linear classifier by SGD with modified-Huber loss (robust; clipped probabilities).",
        {
            "loss": "modified_huber",
            "penalty": "l2",
            "alpha": 1e-2,
            "max_iter": 1000,
            "tol": 1e-3,
            "average": True,
            **RS,
        },
        {"alpha": (1e-3, 1e-2, 0.1)},
        scale=True,
    ),
    _spec(
        "lda",
        "discriminant",
        C,
        LinearDiscriminantAnalysis,
        "Linear discriminant analysis (shared covariance, Gaussian classes).",
        {"solver": "svd"},
        scale=True,
    ),
    _spec(
        "lda_shrinkage",
        "discriminant",
        C,
        LinearDiscriminantAnalysis,
        "LDA with Ledoit-Wolf shrinkage of the covariance (stable with many features).",
        {"solver": "lsqr", "shrinkage": "auto"},
        {"shrinkage": ("auto", 0.1, 0.5, 0.9)},
        scale=True,
    ),
    _spec(
        "qda",
        "discriminant",
        C,
        QuadraticDiscriminantAnalysis,
        "Quadratic discriminant analysis, per-class covariance regularised towards identity.",
        {"reg_param": 0.1},
        {"reg_param": (0.0, 0.1, 0.3, 0.6)},
        scale=True,
    ),
    _spec(
        "gaussian_nb",
        "naive_bayes",
        C,
        GaussianNB,
        "Gaussian naive Bayes.",
        {"var_smoothing": 1e-9},
        {"var_smoothing": (1e-9, 1e-6, 1e-3)},
    ),
    _spec(
        "bernoulli_nb",
        "naive_bayes",
        C,
        BernoulliNB,
        "Bernoulli naive Bayes on the sign of each raw feature (binarize at 0).",
        {"alpha": 1.0, "binarize": 0.0},
        {"alpha": (0.1, 1.0, 10.0)},
    ),
    _spec(
        "svc_rbf",
        "svm",
        C,
        SVC,
        "RBF support vector classifier; P(up) = sigmoid(decision function).",
        {"C": 1.0, "gamma": "scale", "kernel": "rbf", **RS},
        {"C": (0.1, 1.0, 10.0), "gamma": ("scale", 0.01, 0.1)},
        scale=True,
    ),
    _spec(
        "nu_svc",
        "svm",
        C,
        NuSVC,
        "Nu-SVC, RBF kernel (nu bounds the margin-error fraction); sigmoid of decision; "
        "fitted on the last 2,000 rows at most.",
        {"nu": 0.5, "gamma": "scale", "max_train_rows": KERNEL_RIDGE_ROWS, **RS},
        {"nu": (0.3, 0.5, 0.7)},
        scale=True,
        former_defaults={"max_train_rows": None},
    ),
    _spec(
        "linear_svc",
        "svm",
        C,
        LinearSVC,
        "Linear SVM (liblinear, squared hinge); P(up) = sigmoid(decision function).",
        {"C": 0.1, "max_iter": 5000, **RS},
        {"C": (0.01, 0.1, 1.0)},
        scale=True,
    ),
    _spec(
        "linear_svc_calibrated",
        "svm",
        C,
        _calibrated_linear_svc,
        "Linear SVM with Platt-calibrated probabilities (3-fold contiguous CV).",
        {"C": 0.1, "method": "sigmoid", "cv": 3, **RS},
        {"C": (0.01, 0.1, 1.0), "method": ("sigmoid", "isotonic")},
        scale=True,
    ),
    _spec(
        "knn_classifier_15",
        "neighbors",
        C,
        KNeighborsClassifier,
        "k-nearest-neighbours direction vote, k=15 (share of up neighbours).",
        {"n_neighbors": 15, "weights": "uniform"},
        {"n_neighbors": (5, 10, 15, 25)},
        scale=True,
    ),
    _spec(
        "knn_classifier_50",
        "neighbors",
        C,
        KNeighborsClassifier,
        "k-nearest-neighbours direction vote, k=50 (smooth analogue model).",
        {"n_neighbors": 50, "weights": "uniform"},
        {"n_neighbors": (30, 50, 100), "weights": ("uniform", "distance")},
        scale=True,
    ),
    _spec(
        "gaussian_process_classifier",
        "gaussian_process",
        C,
        _gp_classifier,
        "Gaussian process classifier (Laplace), RBF kernel, fitted on the last 300 rows.",
        {
            "length_scale": 1.0,
            "n_restarts_optimizer": 0,
            "max_iter_predict": 100,
            "max_train_rows": 300,
            **RS,
        },
        {"length_scale": (0.3, 1.0, 3.0), "max_train_rows": (200, 300, 500)},
        scale=True,
    ),
    _spec(
        "mlp_classifier_small",
        "neural_net",
        C,
        MLPClassifier,
        "Small MLP classifier (32 hidden units), L2 penalty, early stopping.",
        {
            "hidden_layer_sizes": (32,),
            "alpha": 1e-3,
            "learning_rate_init": 1e-3,
            "max_iter": 300,
            "early_stopping": True,
            **RS,
        },
        {"hidden_layer_sizes": ((16,), (32,), (64,)), "alpha": (1e-4, 1e-3, 1e-2, 0.1)},
        scale=True,
    ),
    _spec(
        "mlp_classifier_medium",
        "neural_net",
        C,
        MLPClassifier,
        "Medium MLP classifier (64-32 hidden units), L2 penalty, early stopping.",
        {
            "hidden_layer_sizes": (64, 32),
            "alpha": 1e-2,
            "learning_rate_init": 1e-3,
            "max_iter": 300,
            "early_stopping": True,
            **RS,
        },
        {"hidden_layer_sizes": ((64, 32), (128, 64), (32, 32, 16)), "alpha": (1e-3, 1e-2, 0.1)},
        scale=True,
    ),
    _spec(
        "decision_tree_classifier",
        "tree",
        C,
        DecisionTreeClassifier,
        "Single classification tree, depth 5, at least 20 rows per leaf.",
        {"max_depth": 5, "min_samples_leaf": 20, "criterion": "gini", **RS},
        {
            "max_depth": (3, 5, 8),
            "min_samples_leaf": (10, 20, 50),
            "criterion": ("gini", "entropy"),
        },
    ),
    _spec(
        "random_forest_classifier",
        "ensemble",
        C,
        RandomForestClassifier,
        "Random forest classifier, 100 trees on half-size bootstrap samples, 20 rows per leaf, "
        "sqrt features per split.",
        {
            "n_estimators": 100,
            "min_samples_leaf": 20,
            "max_features": "sqrt",
            "max_depth": None,
            "n_jobs": 1,
            "max_samples": 0.5,
            **RS,
        },
        {
            "n_estimators": (100, 200, 400),
            "min_samples_leaf": (5, 20, 50),
            "max_features": ("sqrt", 0.5, 1.0),
        },
        former_defaults={"n_estimators": 200, "max_samples": None},
    ),
    _spec(
        "random_forest_classifier_shallow",
        "ensemble",
        C,
        RandomForestClassifier,
        "Random forest classifier of 150 depth-4 trees on half-size bootstrap samples (strongly "
        "regularised).",
        {
            "n_estimators": 150,
            "max_depth": 4,
            "min_samples_leaf": 30,
            "max_features": "sqrt",
            "n_jobs": 1,
            "max_samples": 0.5,
            **RS,
        },
        {"max_depth": (2, 3, 4, 6), "min_samples_leaf": (20, 30, 50)},
        former_defaults={"n_estimators": 300, "max_samples": None},
    ),
    _spec(
        "extra_trees_classifier",
        "ensemble",
        C,
        ExtraTreesClassifier,
        "Extremely randomised trees classifier, 200 trees, 20 rows per leaf.",
        {"n_estimators": 200, "min_samples_leaf": 20, "max_features": "sqrt", "n_jobs": 1, **RS},
        {"n_estimators": (100, 200, 400), "min_samples_leaf": (5, 20, 50)},
    ),
    _spec(
        "gradient_boosting_classifier",
        "ensemble",
        C,
        GradientBoostingClassifier,
        "Gradient-boosted trees classifier (sklearn), 100 depth-3 trees, lr 0.1, half the "
        "features per split.",
        {
            "n_estimators": 100,
            "learning_rate": 0.1,
            "max_depth": 3,
            "subsample": 0.8,
            "min_samples_leaf": 20,
            "max_features": 0.5,
            **RS,
        },
        {
            "n_estimators": (100, 200, 400),
            "learning_rate": (0.01, 0.05, 0.1),
            "max_depth": (2, 3, 4),
        },
        former_defaults={"n_estimators": 200, "learning_rate": 0.05, "max_features": None},
    ),
    _spec(
        "hist_gradient_boosting_classifier",
        "ensemble",
        C,
        HistGradientBoostingClassifier,
        "Histogram gradient boosting classifier (sklearn), 200 iterations, L2 reg.",
        {
            "max_iter": 200,
            "learning_rate": 0.05,
            "max_leaf_nodes": 15,
            "min_samples_leaf": 20,
            "l2_regularization": 1.0,
            **RS,
        },
        {
            "max_iter": (100, 200, 400),
            "learning_rate": (0.02, 0.05, 0.1),
            "max_leaf_nodes": (7, 15, 31),
        },
    ),
    _spec(
        "adaboost_classifier",
        "ensemble",
        C,
        _adaboost_classifier,
        "AdaBoost (SAMME) over 50 depth-2 classification trees.",
        {"n_estimators": 50, "learning_rate": 0.1, "max_depth": 2, **RS},
        {"n_estimators": (50, 100, 200), "learning_rate": (0.05, 0.1, 0.5), "max_depth": (1, 2, 3)},
        former_defaults={"n_estimators": 100},
    ),
    _spec(
        "bagging_classifier",
        "ensemble",
        C,
        _bagging_classifier,
        "50 bagged depth-6 classification trees on half-size samples and 80% of the features.",
        {
            "n_estimators": 50,
            "max_samples": 0.5,
            "max_features": 0.8,
            "max_depth": 6,
            "n_jobs": 1,
            **RS,
        },
        {"max_samples": (0.3, 0.5, 0.8), "max_depth": (4, 6, None)},
        former_defaults={"n_estimators": 100},
    ),
]

SPECS: list[ModelSpec] = _REGRESSION + _CLASSIFICATION
