"""The research assistant: a tool-using language-model agent over mlTrainer's actions."""
