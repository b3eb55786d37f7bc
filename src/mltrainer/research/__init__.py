"""The goal-driven search: candidates, tuning, the sealed holdout, the search planner and
its report (executor-layer code built on models, trials and data)."""
