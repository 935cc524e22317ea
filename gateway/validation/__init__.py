"""Validation: problem codes and the rules that produce them."""

from gateway.validation.problems import CODES, Problem, Severity, has_errors, problem

__all__ = ["CODES", "Problem", "Severity", "has_errors", "problem"]
