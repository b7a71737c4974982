"""A pure Amazon States Language interpreter: no I/O, no clock, no threads (see runtime.py)."""
from .errors import StatesError, matches  # noqa: F401
from .runtime import (Env, advance, apply_patch, new_execution, next_due, pending_tasks,  # noqa: F401
                      run_to_completion)
from .validate import validate  # noqa: F401
