"""Gradient-boosting libraries on the feature matrix: LightGBM, XGBoost and CatBoost.

Each spec wraps the library's scikit-learn estimator in the adapters of
:mod:`.sklearn_models`: regressors are fitted on the standardised target (so penalties such
as ``min_split_loss``, ``reg_alpha`` or a Huber ``delta`` are in units of the target's
standard deviation, not of a 1% return) and classifiers return P(up) from
``predict_proba``. Trees need no feature scaling; the XGBoost linear booster gets a
``StandardScaler`` like the other linear models.

Choices for speed and reproducibility: every model uses one thread by default (``n_jobs``
or ``thread_count``; raise it when the machine is free), a fixed ``random_state``, and no
logging or files (LightGBM ``verbose=-1``, XGBoost ``verbosity=0``, CatBoost
``verbose=False, allow_writing_files=False``). LightGBM also runs with
``deterministic=True``. The XGBoost linear booster uses the ``coord_descent`` updater
because the default ``shotgun`` updater is parallel and not reproducible. Tree counts stay
at 100-300 so one fit on about 1,000 rows takes well under a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .base import ModelSpec
from .sklearn_models import make_factory

__all__ = ["SPECS"]

R, C = "regression", "classification"


# --- LightGBM --------------------------------------------------------------------------------


def _lgbm_regressor(**params: Any) -> Any:
    from lightgbm import LGBMRegressor

    return LGBMRegressor(verbose=-1, deterministic=True, force_col_wise=True, **params)


def _lgbm_classifier(**params: Any) -> Any:
    from lightgbm import LGBMClassifier

    return LGBMClassifier(verbose=-1, deterministic=True, force_col_wise=True, **params)


# --- XGBoost ---------------------------------------------------------------------------------


def _xgb_regressor(**params: Any) -> Any:
    from xgboost import XGBRegressor

    return XGBRegressor(verbosity=0, **params)


def _xgb_classifier(**params: Any) -> Any:
    from xgboost import XGBClassifier

    return XGBClassifier(verbosity=0, objective="binary:logistic", **params)


# --- CatBoost --------------------------------------------------------------------------------


def _cat_regressor(**params: Any) -> Any:
    from catboost import CatBoostRegressor

    return CatBoostRegressor(verbose=False, allow_writing_files=False, **params)


def _cat_classifier(**params: Any) -> Any:
    from catboost import CatBoostClassifier

    return CatBoostClassifier(verbose=False, allow_writing_files=False, **params)


def _spec(
    id: str,
    library: str,
    task: str,
    make: Callable[..., Any],
    description: str,
    defaults: Mapping[str, Any],
    search_space: Mapping[str, tuple[Any, ...]] | None = None,
    *,
    scale: bool = False,
    family: str | None = None,
    former_defaults: Mapping[str, Any] | None = None,
) -> ModelSpec:
    return ModelSpec(
        id=id,
        family=family or library,
        task=task,  # type: ignore[arg-type]
        library=library,
        factory=make_factory(make, task=task, scale=scale),
        description=description,
        defaults=defaults,
        search_space=search_space or {},
        requires=(library,),
        fold_threads=True,  # LightGBM, XGBoost and CatBoost train without the GIL
        former_defaults=former_defaults or {},
    )


LGB, XGB, CAT = "lightgbm", "xgboost", "catboost"

_LGB_BASE: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": -1,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "random_state": 0,
    "n_jobs": 1,
}
_LGB_SPACE: dict[str, tuple[Any, ...]] = {
    "n_estimators": (100, 200, 400),
    "learning_rate": (0.02, 0.05, 0.1),
    "num_leaves": (7, 15, 31),
    "min_child_samples": (10, 20, 50),
    "colsample_bytree": (0.5, 0.8, 1.0),
    "reg_lambda": (0.0, 1.0, 10.0),
}
_LGB_SHALLOW = {
    **_LGB_BASE,
    "n_estimators": 300,
    "learning_rate": 0.03,
    "num_leaves": 4,
    "max_depth": 2,
    "min_child_samples": 50,
    "reg_lambda": 10.0,
    "reg_alpha": 1.0,
}
_LGB_SHALLOW_SPACE = {
    "max_depth": (1, 2, 3),
    "min_child_samples": (30, 50, 100),
    "reg_lambda": (1.0, 10.0, 50.0),
    "reg_alpha": (0.0, 1.0, 5.0),
}
_LGB_DART = {
    **_LGB_BASE,
    "boosting_type": "dart",
    "n_estimators": 100,
    "learning_rate": 0.1,
    "drop_rate": 0.1,
    "skip_drop": 0.5,
}
_LGB_DART_SPACE = {
    "drop_rate": (0.05, 0.1, 0.2),
    "skip_drop": (0.25, 0.5, 0.75),
    "num_leaves": (7, 15, 31),
}
# GOSS keeps the largest gradients plus a random share of the rest; it replaces bagging.
_LGB_GOSS = {
    **_LGB_BASE,
    "data_sample_strategy": "goss",
    "subsample": 1.0,
    "subsample_freq": 0,
    "top_rate": 0.2,
    "other_rate": 0.1,
}
_LGB_GOSS_SPACE = {
    "top_rate": (0.1, 0.2, 0.3),
    "other_rate": (0.05, 0.1, 0.2),
    "num_leaves": (7, 15, 31),
}
# Random-forest mode: independent bagged trees averaged, no shrinkage.
_LGB_RF = {
    **_LGB_BASE,
    "boosting_type": "rf",
    "n_estimators": 200,
    "num_leaves": 31,
    "subsample": 0.632,
    "subsample_freq": 1,
    "colsample_bytree": 0.6,
    "min_child_samples": 20,
}
_LGB_RF_SPACE = {
    "num_leaves": (15, 31, 63),
    "min_child_samples": (10, 20, 50),
    "colsample_bytree": (0.4, 0.6, 0.8),
}
_LGB_XT = {**_LGB_BASE, "extra_trees": True}
_LGB_XT_SPACE = {
    "num_leaves": (7, 15, 31),
    "min_child_samples": (10, 20, 50),
    "learning_rate": (0.02, 0.05, 0.1),
}

_LIGHTGBM: list[ModelSpec] = [
    _spec(
        "lightgbm",
        LGB,
        R,
        _lgbm_regressor,
        "LightGBM gradient boosting, 200 trees of 15 leaves, lr 0.05, row/column bagging.",
        _LGB_BASE,
        _LGB_SPACE,
    ),
    _spec(
        "lightgbm_shallow",
        LGB,
        R,
        _lgbm_regressor,
        "LightGBM with depth-2 trees and strong L1/L2 regularisation (low-signal data).",
        _LGB_SHALLOW,
        _LGB_SHALLOW_SPACE,
    ),
    _spec(
        "lightgbm_dart",
        LGB,
        R,
        _lgbm_regressor,
        "LightGBM DART: boosting with tree dropout against over-specialisation.",
        _LGB_DART,
        _LGB_DART_SPACE,
    ),
    _spec(
        "lightgbm_goss",
        LGB,
        R,
        _lgbm_regressor,
        "LightGBM with gradient-based one-side sampling (GOSS) instead of bagging.",
        _LGB_GOSS,
        _LGB_GOSS_SPACE,
    ),
    _spec(
        "lightgbm_rf",
        LGB,
        R,
        _lgbm_regressor,
        "LightGBM in random-forest mode: 200 bagged, unshrunk trees averaged.",
        _LGB_RF,
        _LGB_RF_SPACE,
    ),
    _spec(
        "lightgbm_extra_trees",
        LGB,
        R,
        _lgbm_regressor,
        "LightGBM with extremely randomised split thresholds (extra_trees=True).",
        _LGB_XT,
        _LGB_XT_SPACE,
    ),
    _spec(
        "lightgbm_linear_tree",
        LGB,
        R,
        _lgbm_regressor,
        "LightGBM with linear models in the leaves (piecewise-linear fit), 7 leaves.",
        {
            **_LGB_BASE,
            "linear_tree": True,
            "num_leaves": 7,
            "min_child_samples": 50,
            "linear_lambda": 1.0,
            "n_estimators": 100,
        },
        {"num_leaves": (3, 7, 15), "linear_lambda": (0.1, 1.0, 10.0)},
    ),
    _spec(
        "lightgbm_huber",
        LGB,
        R,
        _lgbm_regressor,
        "LightGBM with Huber loss (delta = 1 target s.d.): robust to return outliers.",
        {**_LGB_BASE, "objective": "huber", "alpha": 1.0},
        {"alpha": (0.5, 1.0, 2.0), "num_leaves": (7, 15, 31)},
    ),
    _spec(
        "lightgbm_classifier",
        LGB,
        C,
        _lgbm_classifier,
        "LightGBM direction classifier, 200 trees of 15 leaves, row/column bagging.",
        _LGB_BASE,
        _LGB_SPACE,
    ),
    _spec(
        "lightgbm_classifier_shallow",
        LGB,
        C,
        _lgbm_classifier,
        "LightGBM classifier with depth-2 trees and strong L1/L2 regularisation.",
        _LGB_SHALLOW,
        _LGB_SHALLOW_SPACE,
    ),
    _spec(
        "lightgbm_classifier_dart",
        LGB,
        C,
        _lgbm_classifier,
        "LightGBM DART direction classifier (tree dropout).",
        _LGB_DART,
        _LGB_DART_SPACE,
    ),
    _spec(
        "lightgbm_classifier_goss",
        LGB,
        C,
        _lgbm_classifier,
        "LightGBM direction classifier with GOSS sampling.",
        _LGB_GOSS,
        _LGB_GOSS_SPACE,
    ),
    _spec(
        "lightgbm_classifier_rf",
        LGB,
        C,
        _lgbm_classifier,
        "LightGBM random-forest-mode direction classifier.",
        _LGB_RF,
        _LGB_RF_SPACE,
    ),
    _spec(
        "lightgbm_classifier_extra_trees",
        LGB,
        C,
        _lgbm_classifier,
        "LightGBM direction classifier with extremely randomised split thresholds.",
        _LGB_XT,
        _LGB_XT_SPACE,
    ),
]

_XGB_BASE: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "max_depth": 4,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "tree_method": "hist",
    "random_state": 0,
    "n_jobs": 1,
}
_XGB_SPACE: dict[str, tuple[Any, ...]] = {
    "n_estimators": (100, 200, 400),
    "learning_rate": (0.02, 0.05, 0.1),
    "max_depth": (3, 4, 5),
    "min_child_weight": (1.0, 5.0, 20.0),
    "colsample_bytree": (0.5, 0.8, 1.0),
}
_XGB_SHALLOW = {
    **_XGB_BASE,
    "n_estimators": 300,
    "learning_rate": 0.03,
    "max_depth": 2,
    "min_child_weight": 20.0,
    "reg_lambda": 10.0,
    "reg_alpha": 1.0,
    "gamma": 0.1,
}
_XGB_SHALLOW_SPACE = {
    "max_depth": (1, 2, 3),
    "reg_lambda": (1.0, 10.0, 50.0),
    "gamma": (0.0, 0.1, 0.5),
}
_XGB_DEEP = {
    **_XGB_BASE,
    "n_estimators": 150,
    "max_depth": 7,
    "min_child_weight": 20.0,
    "subsample": 0.7,
    "colsample_bytree": 0.6,
    "reg_lambda": 5.0,
}
_XGB_DEEP_SPACE = {
    "max_depth": (6, 7, 8),
    "min_child_weight": (10.0, 20.0, 50.0),
    "subsample": (0.5, 0.7, 0.9),
}
_XGB_DART = {
    **_XGB_BASE,
    "booster": "dart",
    "n_estimators": 100,
    "learning_rate": 0.1,
    "rate_drop": 0.1,
    "skip_drop": 0.5,
}
_XGB_DART_SPACE = {
    "rate_drop": (0.05, 0.1, 0.2),
    "skip_drop": (0.25, 0.5, 0.75),
    "max_depth": (3, 4, 5),
}
_XGB_LINEAR = {
    "booster": "gblinear",
    "updater": "coord_descent",
    "n_estimators": 100,
    "learning_rate": 0.5,
    "reg_lambda": 1.0,
    "reg_alpha": 0.0,
    "random_state": 0,
    "n_jobs": 1,
}
_XGB_LINEAR_SPACE = {"reg_lambda": (0.0, 1.0, 10.0, 100.0), "reg_alpha": (0.0, 1.0, 10.0)}

_XGBOOST: list[ModelSpec] = [
    _spec(
        "xgboost",
        XGB,
        R,
        _xgb_regressor,
        "XGBoost gradient boosting, 200 depth-4 trees, lr 0.05, row/column subsampling.",
        _XGB_BASE,
        _XGB_SPACE,
    ),
    _spec(
        "xgboost_shallow",
        XGB,
        R,
        _xgb_regressor,
        "XGBoost with depth-2 trees and strong regularisation (lambda, alpha, gamma).",
        _XGB_SHALLOW,
        _XGB_SHALLOW_SPACE,
    ),
    _spec(
        "xgboost_deep",
        XGB,
        R,
        _xgb_regressor,
        "XGBoost with depth-7 trees, large min_child_weight and heavy subsampling.",
        _XGB_DEEP,
        _XGB_DEEP_SPACE,
    ),
    _spec(
        "xgboost_dart",
        XGB,
        R,
        _xgb_regressor,
        "XGBoost DART booster: trees dropped out during boosting.",
        _XGB_DART,
        _XGB_DART_SPACE,
    ),
    _spec(
        "xgboost_linear",
        XGB,
        R,
        _xgb_regressor,
        "XGBoost linear booster (elastic-net linear model by coordinate descent).",
        _XGB_LINEAR,
        _XGB_LINEAR_SPACE,
        scale=True,
    ),
    _spec(
        "xgboost_huber",
        XGB,
        R,
        _xgb_regressor,
        "XGBoost with pseudo-Huber loss (slope 1 target s.d.): robust to outliers.",
        {**_XGB_BASE, "objective": "reg:pseudohubererror", "huber_slope": 1.0},
        {"huber_slope": (0.5, 1.0, 2.0), "max_depth": (3, 4, 5)},
    ),
    _spec(
        "xgboost_classifier",
        XGB,
        C,
        _xgb_classifier,
        "XGBoost direction classifier, 200 depth-4 trees, lr 0.05.",
        _XGB_BASE,
        _XGB_SPACE,
    ),
    _spec(
        "xgboost_classifier_shallow",
        XGB,
        C,
        _xgb_classifier,
        "XGBoost classifier with depth-2 trees and strong regularisation.",
        _XGB_SHALLOW,
        _XGB_SHALLOW_SPACE,
    ),
    _spec(
        "xgboost_classifier_deep",
        XGB,
        C,
        _xgb_classifier,
        "XGBoost classifier with depth-7 trees, large min_child_weight, subsampling.",
        _XGB_DEEP,
        _XGB_DEEP_SPACE,
    ),
    _spec(
        "xgboost_classifier_dart",
        XGB,
        C,
        _xgb_classifier,
        "XGBoost DART direction classifier.",
        _XGB_DART,
        _XGB_DART_SPACE,
    ),
    _spec(
        "xgboost_classifier_linear",
        XGB,
        C,
        _xgb_classifier,
        "XGBoost linear booster as a penalised logistic regression.",
        _XGB_LINEAR,
        _XGB_LINEAR_SPACE,
        scale=True,
    ),
]

_CAT_BASE: dict[str, Any] = {
    "iterations": 100,
    "learning_rate": 0.1,
    "depth": 6,
    "l2_leaf_reg": 3.0,
    "random_state": 0,
    "thread_count": 1,
}
_CAT_FORMER = {"iterations": 200, "learning_rate": 0.05}
"""Until 2026-12-02 the depth-6 specs grew 200 trees at lr 0.05 (a 213-fold default trial
took about 130 s on 2 cores); 100 trees at lr 0.1 keep the same total shrinkage."""
_CAT_SPACE: dict[str, tuple[Any, ...]] = {
    "iterations": (100, 200, 400),
    "learning_rate": (0.02, 0.05, 0.1),
    "depth": (4, 6, 8),
    "l2_leaf_reg": (1.0, 3.0, 10.0),
}
_CAT_SHALLOW = {
    **_CAT_BASE,
    "iterations": 300,
    "learning_rate": 0.03,
    "depth": 3,
    "l2_leaf_reg": 10.0,
    "rsm": 0.8,
}
_CAT_SHALLOW_SPACE = {"depth": (2, 3, 4), "l2_leaf_reg": (3.0, 10.0, 30.0), "rsm": (0.5, 0.8, 1.0)}

_CATBOOST: list[ModelSpec] = [
    _spec(
        "catboost",
        CAT,
        R,
        _cat_regressor,
        "CatBoost oblivious-tree boosting, 100 depth-6 trees, lr 0.1.",
        _CAT_BASE,
        _CAT_SPACE,
        former_defaults=_CAT_FORMER,
    ),
    _spec(
        "catboost_shallow",
        CAT,
        R,
        _cat_regressor,
        "CatBoost with depth-3 trees, strong L2 leaf regularisation, feature subsampling.",
        _CAT_SHALLOW,
        _CAT_SHALLOW_SPACE,
    ),
    _spec(
        "catboost_huber",
        CAT,
        R,
        _cat_regressor,
        "CatBoost with Huber loss (delta = 1 target s.d.): robust to return outliers.",
        {**_CAT_BASE, "loss_function": "Huber:delta=1.0"},
        {
            "loss_function": ("Huber:delta=0.5", "Huber:delta=1.0", "Huber:delta=2.0"),
            "depth": (4, 6, 8),
        },
        former_defaults=_CAT_FORMER,
    ),
    _spec(
        "catboost_bayesian_bootstrap",
        CAT,
        R,
        _cat_regressor,
        "CatBoost with Bayesian bootstrap row weights (bagging_temperature 1).",
        {**_CAT_BASE, "bootstrap_type": "Bayesian", "bagging_temperature": 1.0},
        {"bagging_temperature": (0.0, 0.5, 1.0, 3.0), "depth": (4, 6, 8)},
        former_defaults=_CAT_FORMER,
    ),
    _spec(
        "catboost_classifier",
        CAT,
        C,
        _cat_classifier,
        "CatBoost direction classifier, 100 depth-6 trees, lr 0.1.",
        _CAT_BASE,
        _CAT_SPACE,
        former_defaults=_CAT_FORMER,
    ),
    _spec(
        "catboost_classifier_shallow",
        CAT,
        C,
        _cat_classifier,
        "CatBoost direction classifier with depth-3 trees and strong regularisation.",
        _CAT_SHALLOW,
        _CAT_SHALLOW_SPACE,
    ),
]

SPECS: list[ModelSpec] = _LIGHTGBM + _XGBOOST + _CATBOOST
